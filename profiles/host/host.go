// Package host holds the shipped host-hardening baseline policy: the
// runbook's values (firewall ports, fail2ban jail, SSH settings, sysctls,
// update schedule) as YAML, embedded so the binary carries it.
package host

import _ "embed"

//go:embed baseline.yaml
var baseline []byte

// Baseline returns a copy of the baseline policy YAML.
func Baseline() []byte { return append([]byte(nil), baseline...) }
