// Package bench runs the CIS Docker Benchmark (v1.6.0, sections 1–7) against
// a Docker host. It works in two steps: Collect takes one Snapshot of the
// engine (info, version, every container running or stopped, images with
// their history, networks, swarm state) and of the host under a root
// directory (the dockerd command line, daemon.json, file owners and modes,
// audit rules, mounts); then Run evaluates every check as a pure function of
// that snapshot. Checks never call the engine or the filesystem themselves,
// so they are fast, testable on hand-built snapshots, and give the same
// answer twice.
package bench
