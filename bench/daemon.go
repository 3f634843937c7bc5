package bench

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Daemon is the dockerd process serving the engine and its configuration,
// from both places dockerd reads it: the command line and daemon.json.
type Daemon struct {
	PID        int      `json:"pid"`
	UID        int      `json:"uid"`
	Args       []string `json:"args"`
	ConfigFile string   `json:"config_file"`
	// Config is daemon.json as parsed; nil when the file does not exist.
	Config    map[string]any `json:"config,omitempty"`
	ConfigErr string         `json:"config_error,omitempty"`
	// Flags is the command line, keyed by the daemon.json name of each option.
	Flags map[string][]string `json:"flags"`
}

// Setting is one daemon option and where it came from.
type Setting struct {
	Values []string
	Source string // "command line" or the daemon.json path
}

// Value is the last value given (dockerd lets the last one win).
func (s Setting) Value() string {
	if len(s.Values) == 0 {
		return ""
	}
	return s.Values[len(s.Values)-1]
}

// Setting returns option key (a daemon.json name) from the command line or,
// when absent there, from daemon.json. dockerd refuses to start when both
// set the same option, so at most one of them has it.
func (d *Daemon) Setting(key string) (Setting, bool) {
	if d == nil {
		return Setting{}, false
	}
	if v, ok := d.Flags[key]; ok {
		return Setting{Values: v, Source: "command line"}, true
	}
	if v, ok := d.Config[key]; ok {
		return Setting{Values: configValues(v), Source: d.ConfigFile}, true
	}
	return Setting{}, false
}

// Bool reads a boolean option, with def when it is not set anywhere.
func (d *Daemon) Bool(key string, def bool) (bool, string) {
	s, ok := d.Setting(key)
	if !ok {
		return def, "default"
	}
	b, err := strconv.ParseBool(s.Value())
	if err != nil {
		return def, s.Source
	}
	return b, s.Source
}

func configValues(v any) []string {
	switch t := v.(type) {
	case nil:
		return nil
	case string:
		return []string{t}
	case bool:
		return []string{strconv.FormatBool(t)}
	case float64:
		return []string{strconv.FormatFloat(t, 'f', -1, 64)}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, configValues(e)...)
		}
		return out
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			b, _ := json.Marshal(t[k])
			if s, ok := t[k].(string); ok {
				b = []byte(s)
			}
			out = append(out, k+"="+string(b))
		}
		return out
	}
	b, _ := json.Marshal(v)
	return []string{string(b)}
}

// flagKeys maps dockerd command-line names to their daemon.json names where
// they differ (plural lists and short forms).
var flagKeys = map[string]string{
	"H": "hosts", "host": "hosts",
	"insecure-registry":    "insecure-registries",
	"authorization-plugin": "authorization-plugins",
	"default-ulimit":       "default-ulimits",
	"storage-opt":          "storage-opts",
	"log-opt":              "log-opts",
	"exec-opt":             "exec-opts",
	"registry-mirror":      "registry-mirrors",
	"label":                "labels",
	"add-runtime":          "runtimes",
	"D":                    "debug",
	"l":                    "log-level",
	"G":                    "group",
	"b":                    "bridge",
	"s":                    "storage-driver",
	"g":                    "data-root",
	"graph":                "data-root",
	"p":                    "pidfile",
	"e":                    "exec-driver",
}

// boolFlags take no separate value argument: "--icc false" is not a thing,
// "--live-restore" alone means true.
var boolFlags = map[string]bool{
	"icc": true, "iptables": true, "ip6tables": true, "ip-forward": true, "ip-masq": true,
	"ipv6": true, "live-restore": true, "no-new-privileges": true, "userland-proxy": true,
	"selinux-enabled": true, "tls": true, "tlsverify": true, "experimental": true,
	"debug": true, "D": true, "init": true, "raw-logs": true, "rootless": true,
	"validate": true, "version": true, "v": true, "help": true,
}

// ParseFlags turns dockerd's arguments (without argv[0]) into options keyed
// by their daemon.json names. Both "--opt=value" and "--opt value" are
// understood: docker-bench-security only understood the first, so a
// "--config-file PATH" daemon was checked against the wrong file.
func ParseFlags(args []string) (map[string][]string, error) {
	flags := map[string][]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return nil, fmt.Errorf("argument %d %q: dockerd takes no positional arguments", i+1, a)
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		if name == "" {
			return nil, fmt.Errorf("argument %d %q: empty option name", i+1, a)
		}
		key := name
		if k, ok := flagKeys[name]; ok {
			key = k
		}
		if !hasValue {
			if boolFlags[name] {
				value = "true"
			} else {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("option %q needs a value", a)
				}
				i++
				value = args[i]
			}
		}
		flags[key] = append(flags[key], value)
	}
	return flags, nil
}

// ConfigFilePath is where this dockerd reads daemon.json from.
func ConfigFilePath(flags map[string][]string) string {
	if v := flags["config-file"]; len(v) > 0 {
		return v[len(v)-1]
	}
	return "/etc/docker/daemon.json"
}

// Sockets are the unix sockets the daemon listens on. With no --host it is
// /var/run/docker.sock; fd:// (systemd socket activation) is docker.socket's
// default /run/docker.sock.
func (d *Daemon) Sockets() []string {
	s, ok := d.Setting("hosts")
	if !ok || len(s.Values) == 0 {
		return []string{"/var/run/docker.sock"}
	}
	var out []string
	for _, h := range s.Values {
		switch {
		case strings.HasPrefix(h, "unix://"):
			out = append(out, strings.TrimPrefix(h, "unix://"))
		case strings.HasPrefix(h, "fd://"):
			out = append(out, "/run/docker.sock")
		}
	}
	return out
}

// ContainerdSockets are where containerd's socket may be: the system
// containerd's, and the one dockerd starts itself under its exec root when
// no system containerd runs (Debian's docker.io does this:
// /run/docker/containerd/containerd.sock).
func (d *Daemon) ContainerdSockets() []string {
	execRoot := "/run/docker"
	if s, ok := d.Setting("exec-root"); ok && s.Value() != "" {
		execRoot = s.Value()
	}
	return []string{"/run/containerd/containerd.sock", path.Join(execRoot, "containerd", "containerd.sock")}
}

// TCPHosts are the daemon's tcp:// listeners.
func (d *Daemon) TCPHosts() []string {
	s, _ := d.Setting("hosts")
	var out []string
	for _, h := range s.Values {
		if strings.HasPrefix(h, "tcp://") || (!strings.Contains(h, "://") && h != "") {
			out = append(out, h)
		}
	}
	return out
}

// samePath compares socket paths, treating /var/run as /run (a symlink on
// every current distribution).
func samePath(a, b string) bool {
	norm := func(p string) string {
		if strings.HasPrefix(p, "/var/run/") {
			return "/run/" + strings.TrimPrefix(p, "/var/run/")
		}
		return p
	}
	return norm(a) == norm(b)
}
