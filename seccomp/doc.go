// Package seccomp loads, validates, lints, compiles, diffs, generates and
// records seccomp profiles in the Docker/moby JSON format.
package seccomp
