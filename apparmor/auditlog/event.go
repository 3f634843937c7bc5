package auditlog

import (
	"fmt"
	"strings"
	"time"
)

// Kind is what AppArmor said about an event (the apparmor= field, or the old
// numeric record types 1501–1506).
type Kind string

// The kinds libapparmor knows. Invalid is a line that is not an AppArmor
// record, or one that could not be parsed.
const (
	Invalid Kind = "INVALID"
	Audit   Kind = "AUDIT"
	Allowed Kind = "ALLOWED"
	Denied  Kind = "DENIED"
	Hint    Kind = "HINT"
	Status  Kind = "STATUS"
	Error   Kind = "ERROR"
)

// Event is one parsed record. Field names follow libapparmor's aa_log_record.
// Numeric fields use 0 for "not present" except FSUID and OUID, which use -1
// (0 is root).
type Event struct {
	Kind      Kind      `json:"kind"`
	Transport string    `json:"transport,omitempty"` // audit, kernel, syslog, journal, dbus
	Time      time.Time `json:"time,omitzero"`

	// Audit stamp audit(EPOCH.MILLIS:SERIAL). Serial 0 means none was seen.
	Epoch  int64  `json:"epoch,omitempty"`
	Millis int    `json:"millis,omitempty"`
	Serial uint64 `json:"serial,omitempty"`

	Operation   string `json:"operation,omitempty"`
	Class       string `json:"class,omitempty"`
	Mask        string `json:"requested_mask,omitempty"`
	DeniedMask  string `json:"denied_mask,omitempty"`
	FSUID       int64  `json:"fsuid"`
	OUID        int64  `json:"ouid"`
	Profile     string `json:"profile,omitempty"`
	PeerProfile string `json:"peer_profile,omitempty"`
	Peer        string `json:"peer,omitempty"`
	Name        string `json:"name,omitempty"`
	Name2       string `json:"target,omitempty"`
	Command     string `json:"comm,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Attribute   string `json:"attribute,omitempty"`
	Task        int64  `json:"task,omitempty"`
	Parent      int64  `json:"parent,omitempty"`
	Token       uint64 `json:"magic_token,omitempty"`
	Info        string `json:"info,omitempty"`
	ErrorCode   int64  `json:"error,omitempty"`
	PID         int64  `json:"pid,omitempty"`
	PeerPID     int64  `json:"peer_pid,omitempty"`
	Capability  int64  `json:"capability,omitempty"`

	NetAddr     string `json:"addr,omitempty"`
	PeerAddr    string `json:"peer_addr,omitempty"`
	Family      string `json:"family,omitempty"`
	SockType    string `json:"sock_type,omitempty"`
	Protocol    string `json:"protocol,omitempty"`
	LocalAddr   string `json:"laddr,omitempty"`
	ForeignAddr string `json:"faddr,omitempty"`
	LocalPort   int64  `json:"lport,omitempty"`
	ForeignPort int64  `json:"fport,omitempty"`

	DBusBus       string `json:"bus,omitempty"`
	DBusPath      string `json:"path,omitempty"`
	DBusInterface string `json:"interface,omitempty"`
	DBusMember    string `json:"member,omitempty"`
	Signal        string `json:"signal,omitempty"`
	FSType        string `json:"fstype,omitempty"`
	Flags         string `json:"flags,omitempty"`
	SrcName       string `json:"srcname,omitempty"`
	ExecPath      string `json:"execpath,omitempty"`
	PeerInfo      string `json:"peer_info,omitempty"`

	// HasName2 distinguishes target="" from no target (libapparmor prints both
	// differently; a review treats them the same).
	HasName2 bool `json:"-"`
}

// AuditID is "EPOCH.MILLIS:SERIAL" as libapparmor prints it, or "" when the
// record carried no audit stamp.
func (e *Event) AuditID() string {
	if e.Epoch == 0 && e.Serial == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%03d:%d", e.Epoch, e.Millis, e.Serial)
}

// Key identifies one kernel event across transports: the same record read
// from audit.log and from the journal carries the same stamp.
type Key struct {
	Epoch  int64
	Millis int
	Serial uint64
}

// Key returns the event's dedup key and whether it has one.
func (e *Event) Key() (Key, bool) {
	return Key{e.Epoch, e.Millis, e.Serial}, e.Serial != 0
}

// Clone returns a copy whose strings do not share memory with the log line
// the event was parsed from, for keeping beyond the reader's next call.
func (e *Event) Clone() *Event {
	c := *e
	for _, p := range []*string{&c.Transport, &c.Operation, &c.Class, &c.Mask, &c.DeniedMask, &c.Profile,
		&c.PeerProfile, &c.Peer, &c.Name, &c.Name2, &c.Command, &c.Namespace, &c.Attribute, &c.Info,
		&c.NetAddr, &c.PeerAddr, &c.Family, &c.SockType, &c.Protocol, &c.LocalAddr, &c.ForeignAddr,
		&c.DBusBus, &c.DBusPath, &c.DBusInterface, &c.DBusMember, &c.Signal, &c.FSType, &c.Flags,
		&c.SrcName, &c.ExecPath, &c.PeerInfo} {
		*p = strings.Clone(*p)
	}
	return &c
}

func newEvent() Event { return Event{Kind: Invalid, FSUID: -1, OUID: -1} }
