package host

// guardFixes say, per lockout guard, what to change so the guard no longer
// refuses: the real fix, which plan prints under each refusal before it
// mentions --force.
var guardFixes = map[string]string{
	"ssh-include":              "add 'Include /etc/ssh/sshd_config.d/*.conf' near the top of /etc/ssh/sshd_config (Debian's default has it), so sshd reads ctsec's drop-in",
	"ssh-precheck":             "fix the ssh settings in the policy: sshd -t refuses them (the reason is above)",
	"ssh-effective":            "look for a Match block or an earlier file that overrides the value (ctsec host audit ssh shows where each value comes from)",
	"ssh-crypto":               "drop the algorithms this OpenSSH does not have from ssh.kex, ssh.ciphers or ssh.macs in the policy (ssh -Q kex, cipher, mac list what it has)",
	"ssh-keys":                 "give that account a way in sshd will take on that connection — a public key in its AuthorizedKeysFile (readable by it, owned by it or root, not writable by others, allowed by from= and PubkeyAcceptedAlgorithms), a Match block or AllowUsers entry that admits it — and log in with it once from a new session; or keep PasswordAuthentication: \"yes\" in the policy's ssh.settings",
	"ssh-connection":           "fix SSH_CONNECTION (sshd sets it to \"client-ip client-port server-ip server-port\"), or unset it on a console",
	"ssh-installed":            "apt-get install openssh-server, or set ssh: ~ in the policy to leave sshd alone",
	"sysctl-later-file":        "remove or change the line in the later file (named above), or give the policy that file's value; ctsec does not edit files it does not own",
	"fail2ban-later-file":      "remove the option from the later jail file (named above), or give the policy its value; ctsec does not edit files it does not own",
	"sysctl-docker-forwarding": "keep net.ipv4.ip_forward at 1 in the policy's sysctl.settings: Docker's published ports and container traffic need forwarding",
	"sysctl-irreversible":      "drop the key from the policy, or set sysctl.allow_irreversible: true if you mean it (it cannot be undone until reboot)",
	"fail2ban-installed":       "apt-get install fail2ban python3-systemd",
	"fail2ban-client-ip":       "add the address you connect from to operator.trusted_ips in the policy, so fail2ban never bans it",
	"firewall-installed":       "apt-get install ufw",
	"auditd-installed":         "apt-get install auditd",
	"auditd-immutable":         "reboot (the kernel's audit rules are locked with -e 2), then apply again; or leave auditd out of this apply",
	"integrity-installed":      "apt-get install aide aide-common rkhunter (or set integrity.aide / integrity.rkhunter to false in the policy)",
	"firewall-ssh-port":        "add the port sshd listens on to firewall.allow in the policy (proto tcp), so default-deny keeps SSH open",
	"firewall-after-init":      "read /etc/ufw/after.init: if what it holds should run at every ufw start, chmod 750 it and plan again; if not, take it out (or restore /usr/share/ufw/after.init); or set firewall.docker: false to leave DOCKER-USER alone",
}

// GuardFix is what to change so the guard no longer refuses; "" when ctsec
// has no advice beyond the refusal's reason.
func GuardFix(guard string) string { return guardFixes[guard] }
