package ssh

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ctsec/ctsec/host"
)

// The ssh-keys guard judges logins the way sshd will judge them after the
// change: sshd -T -C on the planned tree for the operator's own connection
// (from SSH_CONNECTION: user, client address, server address and port), so
// sshd itself applies every Match block; then what sshd does at login on
// top of that configuration — AllowUsers/DenyUsers (USER@HOST too),
// AllowGroups/DenyGroups, PermitRootLogin, AuthenticationMethods, and
// authorized_keys read as the user with StrictModes, each line checked by
// ssh-keygen, its options (from=, restrict, command=, expiry-time) and its
// key type against PubkeyAcceptedAlgorithms.

// maxOtherAccounts bounds how many accounts besides the operator are
// judged one by one (each may cost an sshd and an ssh-keygen run).
const maxOtherAccounts = 200

// neutral is the connection other accounts are judged on: they log in
// from anywhere, so from an address no Match Address block names.
var neutral = connSpec{host: "192.0.2.10", addr: netip.MustParseAddr("192.0.2.10"), laddr: netip.MustParseAddr("192.0.2.1"), lport: 22}

// login is the verdict for one account on one connection.
type login struct {
	ok  bool
	why []string
}

func (l login) reason() string { return strings.Join(l.why, "; ") }

// judge runs sshd -T -C for the connection on a staged tree and decides
// whether the account gets in with any method sshd would accept.
func judge(ctx context.Context, env *host.Env, main string, a account, conn connSpec, cache map[string]Effective) (login, error) {
	conn.user = a.Name
	eff, ok := cache[conn.String()]
	if !ok {
		var err error
		if eff, err = Dump(ctx, env.Runner, main, conn.String()); err != nil {
			return login{}, err
		}
		cache[conn.String()] = eff
	}
	if deny := a.accessDenied(eff, conn.host, conn.addr); deny != "" {
		return login{why: []string{"sshd refuses " + a.Name + " (" + deny + ")"}}, nil
	}
	checked := map[string]login{}
	method := func(m string) login {
		if l, ok := checked[m]; ok {
			return l
		}
		l := methodWorks(ctx, env, a, eff, conn, m)
		checked[m] = l
		return l
	}
	var why []string
	for _, list := range authMethods(eff) {
		all := true
		for _, m := range list {
			if l := method(m); !l.ok {
				all = false
				if len(list) > 1 {
					why = append(why, fmt.Sprintf("AuthenticationMethods %s: %s", strings.Join(list, ","), l.reason()))
				} else {
					why = append(why, l.reason())
				}
				break
			}
		}
		if all {
			return login{ok: true}, nil
		}
	}
	return login{why: dedupe(why)}, nil
}

// authMethods is AuthenticationMethods as lists of methods that must all
// succeed; "any" is each method on its own. hostbased and GSSAPI logins
// are left out: ctsec cannot tell whether the operator has them.
func authMethods(eff Effective) [][]string {
	am := eff.Get("authenticationmethods")
	if am == "" || am == "any" {
		return [][]string{{"publickey"}, {"password"}, {"keyboard-interactive"}}
	}
	var out [][]string
	for _, l := range strings.Fields(am) {
		var list []string
		for _, m := range strings.Split(l, ",") {
			base, _, _ := strings.Cut(m, ":")
			list = append(list, base)
		}
		out = append(out, list)
	}
	return out
}

func methodWorks(ctx context.Context, env *host.Env, a account, eff Effective, conn connSpec, m string) login {
	rootPassword := a.UID != 0 || eff.Get("permitrootlogin") == "yes"
	switch m {
	case "publickey":
		if eff.Get("pubkeyauthentication") != "yes" {
			return login{why: []string{"public key: PubkeyAuthentication no"}}
		}
		if c := eff.Get("authorizedkeyscommand"); c != "" && c != "none" {
			return login{ok: true} // keys come from a command (EC2 Instance Connect, OS Login): not checked
		}
		ok, why := usableKeys(ctx, env, a, eff, conn)
		if !ok {
			return login{why: []string{"public key: " + strings.Join(why, "; ")}}
		}
		return login{ok: true}
	case "password", "keyboard-interactive":
		key := map[string]string{"password": "passwordauthentication", "keyboard-interactive": "kbdinteractiveauthentication"}[m]
		name := map[string]string{"password": "PasswordAuthentication", "keyboard-interactive": "KbdInteractiveAuthentication"}[m]
		switch {
		case eff.Get(key) != "yes":
			return login{why: []string{m + ": " + name + " no"}}
		case m == "keyboard-interactive" && eff.Get("usepam") != "yes":
			return login{why: []string{m + ": UsePAM no"}}
		case !rootPassword:
			return login{why: []string{m + ": PermitRootLogin " + eff.Get("permitrootlogin")}}
		case a.ShadowKnown && !a.Password:
			return login{why: []string{m + ": " + a.Name + " has no password"}}
		}
		return login{ok: true}
	}
	return login{why: []string{m + ": ctsec cannot check this method"}}
}

func dedupe(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// operatorConn is the operator's connection: the real one from
// SSH_CONNECTION, or on a console the neutral one.
func operatorConn(env *host.Env) (connSpec, bool, error) {
	c, ok, err := env.Conn()
	if err != nil || !ok {
		return neutral, false, err
	}
	return connSpec{host: c.Client.String(), addr: c.Client, laddr: c.Server, lport: c.ServerPort}, true, nil
}

// lockoutGuard refuses a change after which the operator could not log in
// on the connection they use now (or, from a console, at all), or an
// account that logs in today could not; before is the current tree,
// after the planned one, both staged for sshd.
func lockoutGuard(ctx context.Context, env *host.Env, cfg *Config, before, after string) ([]host.Refusal, []string) {
	accts, err := readAccounts(env)
	if err != nil {
		return []host.Refusal{{Guard: "ssh-keys", Reason: "cannot read /etc/passwd to check who keeps a way in: " + err.Error()}}, nil
	}
	var refusals []host.Refusal
	var notes []string
	conn, real, err := operatorConn(env)
	if err != nil {
		refusals = append(refusals, host.ConnRefusal(err))
	}
	beforeCache, afterCache := map[string]Effective{}, map[string]Effective{}
	fail := func(err error) ([]host.Refusal, []string) {
		return append(refusals, host.Refusal{Guard: "ssh-keys", Reason: "cannot judge logins with sshd -T: " + err.Error()}), notes
	}
	anyoneBefore, anyoneAfter := false, false
	op, haveOp := accountNamed(accts, env.Operator)
	if haveOp {
		now, err := judge(ctx, env, after, op, conn, afterCache)
		if err != nil {
			return fail(err)
		}
		where := "from a console (no SSH_CONNECTION)"
		if real {
			where = fmt.Sprintf("on your connection from %s to %s port %d", conn.addr, conn.laddr, conn.lport)
		}
		if now.ok {
			anyoneAfter = true
		} else {
			was, err := judge(ctx, env, before, op, conn, beforeCache)
			if err != nil {
				return fail(err)
			}
			spec := conn
			spec.user = op.Name
			msg := fmt.Sprintf("after this change sshd would not let the operator %q in %s (sshd -T -C %s): %s", op.Name, where, spec, now.reason())
			switch {
			case was.ok:
				anyoneBefore = true
				refusals = append(refusals, host.Refusal{Guard: "ssh-keys", Reason: msg})
			case real:
				// Connected now although today's files would refuse: sshd
				// has not read them since, and apply reloads it.
				refusals = append(refusals, host.Refusal{Guard: "ssh-keys", Reason: msg + " (the files refuse this login today too; sshd has not reloaded them since you logged in, and apply reloads it)"})
			default:
				notes = append(notes, msg+"; it does not today either")
			}
		}
	}
	judged := 0
	for _, a := range accts {
		if a.Name == env.Operator || !a.canLogIn() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if judged++; judged > maxOtherAccounts {
			notes = append(notes, fmt.Sprintf("only the operator and the first %d accounts that may log in were checked for a way in", maxOtherAccounts))
			break
		}
		was, err := judge(ctx, env, before, a, neutral, beforeCache)
		if err != nil {
			return fail(err)
		}
		if !was.ok {
			continue // no way in today: nothing to lose
		}
		anyoneBefore = true
		now, err := judge(ctx, env, after, a, neutral, afterCache)
		if err != nil {
			return fail(err)
		}
		if now.ok {
			anyoneAfter = true
			continue
		}
		if strings.HasPrefix(now.reason(), "sshd refuses") {
			continue // the configuration shuts them out on purpose
		}
		refusals = append(refusals, host.Refusal{Guard: "ssh-keys",
			Reason: fmt.Sprintf("user %q logs in today and could not after this change: %s", a.Name, now.reason())})
	}
	if anyoneBefore && !anyoneAfter && len(refusals) == 0 {
		refusals = append(refusals, host.Refusal{Guard: "ssh-keys", Reason: "after this change no account could log in over SSH: nobody keeps a usable key"})
	}
	return refusals, notes
}
