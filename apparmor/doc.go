// Package apparmor generates, parses, validates and loads AppArmor profiles
// for containers, and turns complain-mode audit logs into reviewed rules.
package apparmor
