package modules

import (
	"reflect"
	"strings"
	"testing"
)

func TestSelectKeepsApplyOrder(t *testing.T) {
	if got := Names(); !reflect.DeepEqual(got, []string{"ssh", "fail2ban", "sysctl", "firewall", "updates", "auditd", "integrity"}) {
		t.Errorf("names = %v", got)
	}
	ms, err := Select([]string{"updates", "ssh"})
	if err != nil || len(ms) != 2 || ms[0].Name() != "ssh" || ms[1].Name() != "updates" {
		t.Errorf("Select = %v, %v", ms, err)
	}
	if _, err := Select([]string{"sshd"}); err == nil || !strings.Contains(err.Error(), "want one of ssh, fail2ban") {
		t.Errorf("unknown module error = %v", err)
	}
}
