package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// arm schedules `ctsec host rollback --if-unconfirmed ID` for the deadline:
// a transient systemd timer where systemd runs (it survives the SSH session
// and logind's cleanup), otherwise a detached process in its own session.
func (e *Engine) arm(ctx context.Context, j *Journal, within time.Duration) error {
	self := e.Self
	if len(self) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		self = []string{exe}
	}
	// The deadline is rounded down and the delay up, so the rollback never
	// runs before the time printed for the operator. The sleeper is given
	// the delay, not the deadline: it counts on its own (monotonic) time, so
	// a clock that is not the wall clock cannot make it wait for the wrong
	// instant, and a late start only makes it later.
	j.Deadline = e.now().Add(within).Truncate(time.Second)
	wait := roundUpSeconds(within)
	args := append(append([]string{}, self...), "host", "rollback", "--state-dir", e.StateDir, "--if-unconfirmed", j.ID)
	if e.Env.Systemd() {
		unit, runArgs := timerArgs(j.ID, wait, args)
		if _, err := e.Env.Runner.Output(ctx, "systemd-run", runArgs...); err != nil {
			return err
		}
		j.ArmedBy = "systemd:" + unit
	} else {
		args = append(args[:len(args)-1], "--wait", wait.String(), j.ID)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.Env = append(os.Environ(), "SSH_CONNECTION=")
		devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer devnull.Close()
		logf, err := os.OpenFile(strings.TrimSuffix(mustJournalPath(e, j.ID), ".json")+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer logf.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
		if err := cmd.Start(); err != nil {
			return err
		}
		j.ArmedBy = "process:" + strconv.Itoa(cmd.Process.Pid)
		cmd.Process.Release()
	}
	j.Status = StatusApplying
	return e.saveJournal(j)
}

// timerArgs are the systemd-run arguments for a transient timer that runs
// cmd once, within from now, and the unit's name. The name derives from the
// change ID, so each apply has its own timer and confirm can stop it by
// name. The delay is rounded up to whole seconds: a rollback must never run
// before the deadline the operator was told.
func timerArgs(id string, within time.Duration, cmd []string) (string, []string) {
	unit := "ctsec-rollback-" + strings.ReplaceAll(id, "-", "")
	secs := int64(roundUpSeconds(within) / time.Second)
	return unit, append([]string{"--unit=" + unit, "--on-active=" + strconv.FormatInt(secs, 10) + "s",
		"--timer-property=AccuracySec=1s", "--description=ctsec host rollback unless confirmed", "--"}, cmd...)
}

func roundUpSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1) / time.Second * time.Second
}

func mustJournalPath(e *Engine, id string) string {
	p, _ := e.journalPath(id)
	return p
}

// disarm stops a pending armed rollback; best effort, because the journal's
// status already tells a late rollback not to run.
func (e *Engine) disarm(ctx context.Context, j *Journal) {
	kind, arg, _ := strings.Cut(j.ArmedBy, ":")
	switch kind {
	case "systemd":
		e.Env.Runner.Run(ctx, "systemctl", "stop", arg+".timer")
	case "process":
		pid, err := strconv.Atoi(arg)
		if err != nil || pid == os.Getpid() {
			return
		}
		// Only signal the process if it is still our sleeper for this id.
		cmdline, err := os.ReadFile("/proc/" + arg + "/cmdline")
		if err == nil && bytes.Contains(cmdline, []byte(j.ID)) && bytes.Contains(cmdline, []byte("--if-unconfirmed")) {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

// ErrSameSession is a confirmation from the session that applied: it proves
// nothing about whether a new login still works.
var ErrSameSession = errors.New("confirm from a NEW SSH login: this is the session that applied the change, and only a new login proves the host is still reachable (use --force to confirm anyway)")

// Confirm keeps a pending apply (newest when id is empty) and disarms its rollback.
func (e *Engine) Confirm(ctx context.Context, id string, force bool) (*Journal, error) {
	if id == "" {
		js, err := e.History()
		if err != nil {
			return nil, err
		}
		for i := len(js) - 1; i >= 0; i-- {
			if js[i].Status == StatusPending || (js[i].Status == StatusApplying && js[i].ArmedBy != "") {
				id = js[i].ID
				break
			}
		}
		if id == "" {
			return nil, errors.New("no host change is waiting for confirmation")
		}
	}
	var out *Journal
	err := e.updateJournal(id, func(j *Journal) error {
		switch j.Status {
		case StatusRolledBack:
			return fmt.Errorf("too late: change %s was rolled back at %s (%s)", id, j.RolledBackAt.Format(time.RFC3339), j.Reason)
		case StatusConfirmed:
			return fmt.Errorf("change %s is already confirmed", id)
		case StatusApplied:
			return fmt.Errorf("change %s was not applied with --confirm-within; nothing to confirm", id)
		case StatusApplying:
			return fmt.Errorf("change %s is still being applied", id)
		}
		if !force && j.SSHConnection != "" && j.SSHConnection == e.Env.SSHConnection {
			return ErrSameSession
		}
		j.Status, j.ConfirmedAt = StatusConfirmed, e.now()
		out = j
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.disarm(ctx, out)
	return out, nil
}

// RollbackIfUnconfirmed is what the armed timer or process runs: wait (when
// wait is positive), then roll back unless confirmed.
func (e *Engine) RollbackIfUnconfirmed(ctx context.Context, id string, wait time.Duration) (bool, error) {
	if wait > 0 {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(wait):
		}
	}
	j, err := e.loadJournal(id)
	if err != nil {
		return false, err
	}
	switch j.Status {
	case StatusConfirmed, StatusRolledBack, StatusApplied:
		return false, nil
	}
	return true, e.rollback(ctx, id, "not confirmed by "+j.Deadline.Format(time.RFC3339))
}
