package auditlog

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// fields is the state of one key=value pass: the values that decide the
// event kind rather than fill an Event field.
type fields struct {
	apparmor string // apparmor="DENIED"
	typ      string // a "type=1503" inside the body of old kernel records
}

// parse reads key=value pairs into ev. Values are "quoted" (never holding a
// quote: the kernel hex-encodes such values), 'single-quoted' (USER_AVC msg)
// or bare (numbers, and hex-encoded untrusted strings). It reports false on
// text libapparmor's grammar rejects; fields read before that stay set.
func (f *fields) parse(s string, ev *Event) bool {
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return true
		}
		k := i
		for i < len(s) && isKeyByte(s[i]) {
			i++
		}
		if i == k || i >= len(s) || s[i] != '=' {
			return false
		}
		key := s[k:i]
		i++
		var val string
		quoted := false
		switch {
		case i < len(s) && (s[i] == '"' || s[i] == '\''):
			q := s[i]
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				return false
			}
			val, quoted = s[i+1:i+1+end], true
			i += end + 2
		default:
			v := i
			for i < len(s) && !isSpace(s[i]) {
				i++
			}
			val = s[v:i]
		}
		if !f.set(key, val, quoted, ev) {
			return false
		}
	}
}

// set stores one value. It returns false only where libapparmor's grammar
// would fail the record (a hex-only field that is not valid hex).
func (f *fields) set(key, val string, quoted bool, ev *Event) bool {
	// str decodes the kernel's hex form of untrusted strings.
	str := func() string {
		if !quoted && isHex(val) {
			return decodeHex(val)
		}
		return val
	}
	switch key {
	case "apparmor":
		f.apparmor = val
	case "type":
		f.typ = val
	case "operation":
		ev.Operation = val
	case "class":
		ev.Class = val
	case "requested_mask", "requested":
		ev.Mask = val
	case "denied_mask", "denied", "mask":
		ev.DeniedMask = val
	case "fsuid":
		ev.FSUID = atoi(val, -1)
	case "ouid":
		ev.OUID = atoi(val, -1)
	case "profile", "label":
		ev.Profile = str()
	case "peer_profile", "peer_label", "tcontext":
		ev.PeerProfile = str()
	case "peer":
		ev.Peer = str()
	case "name", "capname":
		ev.Name = str()
	case "comm", "exe":
		ev.Command = str()
	case "name2", "target":
		v := str()
		if !quoted && val != "" && (!isHex(val) || !printable(v)) {
			// Binary garbage in target= was a kernel bug (lp#1689667);
			// libapparmor rejects the record, and so do we.
			return false
		}
		ev.Name2, ev.HasName2 = v, true
	case "namespace":
		ev.Namespace = str()
	case "attribute":
		ev.Attribute = val
	case "task":
		ev.Task = atoi(val, 0)
	case "parent":
		ev.Parent = atoi(val, 0)
	case "magic_token":
		ev.Token = uint64(atoi(val, 0))
	case "info":
		ev.Info = val
	case "error":
		n := atoi(val, 0)
		if n < 0 {
			n = -n // libapparmor drops the sign
		}
		ev.ErrorCode = n
	case "pid":
		ev.PID = atoi(val, 0)
	case "peer_pid":
		ev.PeerPID = atoi(val, 0)
	case "capability":
		ev.Capability = atoi(val, 0)
	case "addr":
		if val != "none" && val != "?" {
			ev.NetAddr = str()
		}
	case "peer_addr":
		if val != "none" && val != "?" {
			ev.PeerAddr = str()
		}
	case "family":
		ev.Family = val
	case "sock_type":
		ev.SockType = val
	case "protocol":
		ev.Protocol = protocolName(val, quoted)
	case "laddr", "saddr":
		ev.LocalAddr = val
	case "faddr", "daddr":
		ev.ForeignAddr = val
	case "lport", "src":
		ev.LocalPort = atoi(val, 0)
	case "fport", "dest":
		ev.ForeignPort = atoi(val, 0)
	case "bus":
		ev.DBusBus = val
	case "path":
		ev.DBusPath = val
	case "interface":
		ev.DBusInterface = val
	case "member", "method":
		ev.DBusMember = val
	case "signal":
		ev.Signal = val
	case "fstype":
		ev.FSType = val
	case "flags":
		ev.Flags = val
	case "srcname":
		ev.SrcName = str()
	case "execpath":
		ev.ExecPath = str()
	case "peer_info":
		ev.PeerInfo = val
	}
	return true
}

// protocols names the IP protocol numbers AppArmor logs, as libapparmor does.
var protocols = map[int64]string{
	0: "ip", 1: "icmp", 2: "igmp", 4: "ipip", 6: "tcp", 8: "egp", 12: "pup",
	17: "udp", 22: "idp", 29: "tp", 33: "dccp", 41: "ipv6", 46: "rsvp", 47: "gre",
	50: "esp", 51: "ah", 58: "icmpv6", 92: "mtp", 94: "beetph", 98: "encap",
	103: "pim", 108: "comp", 132: "sctp", 136: "udplite", 137: "mpls", 255: "raw",
}

func protocolName(val string, quoted bool) string {
	if quoted {
		return val
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		return val
	}
	if name, ok := protocols[n]; ok {
		return name
	}
	return "unknown(" + strconv.FormatInt(n, 10) + ")"
}

func atoi(s string, def int64) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return def
	}
	return n
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// isHex reports the kernel's encoding of an untrusted string: an even number
// of uppercase hex digits.
func isHex(s string) bool {
	if len(s) == 0 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// printable reports valid UTF-8 without control bytes: what a profile name
// or path decoded from hex looks like, unlike kernel garbage.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func decodeHex(s string) string {
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
	return string(b)
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}
