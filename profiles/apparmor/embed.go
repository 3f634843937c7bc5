// Package aaprofiles holds ctsec's built-in AppArmor profile templates as
// data. Package apparmor renders them from typed, validated values; this
// package does no rendering of its own so nothing here can bypass that.
package aaprofiles

import _ "embed"

// DockerDefault is the text/template of Docker's docker-default profile.
// Its fields (ABI, Imports, Name, InnerImports, DaemonProfile) must be
// rendered AppArmor syntax: names already quoted, includes already typed.
//
//go:embed docker-default.tmpl
var DockerDefault string
