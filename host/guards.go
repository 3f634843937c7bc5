package host

// guardFixes say, per lockout guard, what to change so the guard no longer
// refuses: the real fix, which plan prints under each refusal before it
// mentions --force.
var guardFixes = map[string]string{
	"ssh-include":              "add 'Include /etc/ssh/sshd_config.d/*.conf' near the top of /etc/ssh/sshd_config (Debian's default has it), so sshd reads ctsec's drop-in",
	"ssh-precheck":             "fix the ssh settings in the policy: sshd -t refuses them (the reason is above)",
	"ssh-effective":            "look for a Match block or an earlier file that overrides the value (ctsec host audit ssh shows where each value comes from)",
	"ssh-crypto":               "drop the algorithms this OpenSSH does not have from ssh.kex, ssh.ciphers or ssh.macs in the policy (ssh -Q kex, cipher, mac list what it has)",
	"ssh-keys":                 "install a public key for that account (~/.ssh/authorized_keys, owned by it, not writable by others) and log in with it once, or keep passwordauthentication: yes in the policy's ssh.settings",
	"sysctl-docker-forwarding": "keep net.ipv4.ip_forward at 1 in the policy's sysctl.settings: Docker's published ports and container traffic need forwarding",
	"sysctl-irreversible":      "drop the key from the policy, or set sysctl.allow_irreversible: true if you mean it (it cannot be undone until reboot)",
	"fail2ban-installed":       "apt-get install fail2ban python3-systemd",
	"fail2ban-client-ip":       "add the address you connect from to operator.trusted_ips in the policy, so fail2ban never bans it",
	"firewall-installed":       "apt-get install ufw",
	"firewall-ssh-port":        "add the port sshd listens on to firewall.allow in the policy (proto tcp), so default-deny keeps SSH open",
}

// GuardFix is what to change so the guard no longer refuses; "" when ctsec
// has no advice beyond the refusal's reason.
func GuardFix(guard string) string { return guardFixes[guard] }
