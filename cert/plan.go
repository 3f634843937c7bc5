package cert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/rootfs"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

// Target says where the pair goes and how the service takes it.
type Target struct {
	// Container is the container's name or id.
	Container string
	// Volume is a named volume (or a bind mount's host path) mounted in
	// the container; Dest a directory inside the container. One of them
	// is needed; with both, Dest must be inside the volume's mount.
	Volume, Dest string
	// CertName and KeyName are the file names written in Dest.
	CertName, KeyName string
	// UID and GID own the files; -1 keeps the existing file's owner, or
	// takes the directory's for a new file.
	UID, GID int
	// CertMode and KeyMode are the files' permissions.
	CertMode, KeyMode fs.FileMode
	// Reload is run in the container instead of a restart.
	Reload []string
	// Verify is the address the service answers TLS on; empty means the
	// published host port of Port, or the container's address.
	Verify string
	Port   int
	// StartTLS is "postgres" for PostgreSQL's SSLRequest before the
	// handshake, "" for TLS from the first byte.
	StartTLS string
	// ServerName is sent as SNI (default the certificate's first name).
	ServerName string
}

// Plan is what deploy will do.
type Plan struct {
	Pair        *Pair        `json:"certificate"`
	Container   string       `json:"container"`
	ContainerID string       `json:"container_id"`
	Running     bool         `json:"running"`
	Mount       string       `json:"mount"` // the mount's host path
	Dest        string       `json:"dest"`  // the directory inside the container
	Files       []FileAction `json:"files"`
	Changed     bool         `json:"changed"`
	// Activate is how the service picks the files up: "restart" or the
	// reload command.
	Activate string `json:"activate"`
	Verify   string `json:"verify"`
	StartTLS string `json:"starttls,omitempty"`

	target Target
}

// FileAction is one file written.
type FileAction struct {
	Path     string          `json:"path"`      // inside the container
	HostPath string          `json:"host_path"` // where it is written
	Mode     report.FileMode `json:"mode"`
	UID      int             `json:"uid"`
	GID      int             `json:"gid"`
	Exists   bool            `json:"exists"`
	Changed  bool            `json:"changed"`
	SHA256   string          `json:"sha256"` // of the content written (of the chain for the certificate; the key's is not shown)

	rel  string // path inside the mount
	data []byte
	perm fs.FileMode
}

// NewPlan finds where the pair goes in the container and what changes.
func NewPlan(ctx context.Context, docker *engine.Client, p *Pair, t Target) (*Plan, error) {
	if t.CertName == "" {
		t.CertName = "server.crt"
	}
	if t.KeyName == "" {
		t.KeyName = "server.key"
	}
	for _, n := range []string{t.CertName, t.KeyName} {
		if n != path.Base(n) || n == "." || n == ".." || strings.HasPrefix(n, ".") {
			return nil, fmt.Errorf("file name %q: want a plain file name, not a path", n)
		}
	}
	if t.CertName == t.KeyName {
		return nil, errors.New("the certificate and the key need different file names")
	}
	if t.CertMode == 0 {
		t.CertMode = 0o644
	}
	if t.KeyMode == 0 {
		t.KeyMode = 0o600
	}
	if t.KeyMode&0o077 > 0o040 {
		return nil, fmt.Errorf("key mode %04o lets others read the private key", t.KeyMode)
	}
	res, err := docker.ContainerInspect(ctx, t.Container)
	if err != nil {
		return nil, fmt.Errorf("inspecting container %s: %w", t.Container, err)
	}
	c := res
	m, dest, err := pickMount(c, t)
	if err != nil {
		return nil, err
	}
	pl := &Plan{Pair: p, Container: strings.TrimPrefix(c.Name, "/"), ContainerID: c.ID, Running: c.State != nil && c.State.Running,
		Mount: m.Source, Dest: dest, StartTLS: t.StartTLS, target: t}
	pl.Activate = "restart"
	if len(t.Reload) > 0 {
		pl.Activate = strings.Join(t.Reload, " ")
	}
	if pl.Verify, err = verifyAddr(c, t); err != nil {
		return nil, err
	}
	root := rootfs.New(m.Source)
	rel := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(dest, m.Destination)), "/")
	for _, f := range []struct {
		name string
		data []byte
		mode fs.FileMode
	}{{t.CertName, p.Chain, t.CertMode}, {t.KeyName, p.Key, t.KeyMode}} {
		fa := FileAction{Path: path.Join(dest, f.name), HostPath: root.Join(path.Join(rel, f.name)), Mode: report.FileMode(f.mode),
			UID: t.UID, GID: t.GID, rel: path.Join("/", rel, f.name), data: f.data, perm: f.mode}
		sum := sha256.Sum256(f.data)
		if f.name == t.CertName {
			fa.SHA256 = hex.EncodeToString(sum[:])
		}
		st, err := root.Lstat(fa.rel)
		switch {
		case err == nil && !st.Mode().IsRegular():
			return nil, fmt.Errorf("%s is not a regular file", fa.HostPath)
		case err == nil:
			fa.Exists = true
			uid, gid := ownerOf(st)
			if fa.UID < 0 {
				fa.UID = uid
			}
			if fa.GID < 0 {
				fa.GID = gid
			}
			old, rerr := root.ReadFile(fa.rel, maxPEM)
			fa.Changed = rerr != nil || string(old) != string(f.data) || st.Mode().Perm() != f.mode || uid != fa.UID || gid != fa.GID
		case errors.Is(err, fs.ErrNotExist):
			fa.Changed = true
			if fa.UID < 0 || fa.GID < 0 {
				dst, derr := root.Stat(path.Dir(fa.rel))
				if derr != nil {
					return nil, fmt.Errorf("the directory for %s: %w", fa.Path, derr)
				}
				uid, gid := ownerOf(dst)
				if fa.UID < 0 {
					fa.UID = uid
				}
				if fa.GID < 0 {
					fa.GID = gid
				}
			}
		default:
			return nil, fmt.Errorf("looking at %s: %w", fa.HostPath, err)
		}
		pl.Changed = pl.Changed || fa.Changed
		pl.Files = append(pl.Files, fa)
	}
	return pl, nil
}

// pickMount finds the volume or bind mount the files go through.
func pickMount(c engine.ContainerInspect, t Target) (engine.MountPoint, string, error) {
	var names []string
	var best *engine.MountPoint
	for i, m := range c.Mounts {
		names = append(names, fmt.Sprintf("%s at %s", orSource(m), m.Destination))
		if m.Type != mount.TypeVolume && m.Type != mount.TypeBind {
			continue
		}
		switch {
		case t.Volume != "":
			if m.Name == t.Volume || m.Source == t.Volume {
				best = &c.Mounts[i]
			}
		case t.Dest != "":
			if within(t.Dest, m.Destination) && (best == nil || len(m.Destination) > len(best.Destination)) {
				best = &c.Mounts[i]
			}
		}
	}
	name := strings.TrimPrefix(c.Name, "/")
	switch {
	case t.Volume == "" && t.Dest == "":
		return engine.MountPoint{}, "", errors.New("say where the files go: --volume NAME or --dest DIR inside the container")
	case best == nil && t.Volume != "":
		return engine.MountPoint{}, "", fmt.Errorf("container %s has no volume or bind mount %q (its mounts: %s)", name, t.Volume, orNone(names))
	case best == nil:
		return engine.MountPoint{}, "", fmt.Errorf("%s in container %s is on no volume or bind mount, so a copy there would not survive a restart (its mounts: %s)", t.Dest, name, orNone(names))
	case best.Source == "":
		return engine.MountPoint{}, "", fmt.Errorf("the mount at %s in container %s has no host path", best.Destination, name)
	}
	dest := best.Destination
	if t.Dest != "" {
		dest = path.Clean(t.Dest)
		if !within(dest, best.Destination) {
			return engine.MountPoint{}, "", fmt.Errorf("%s is not inside the volume %s, mounted at %s", t.Dest, t.Volume, best.Destination)
		}
	}
	return *best, dest, nil
}

func within(p, dir string) bool {
	p, dir = path.Clean("/"+p), path.Clean("/"+dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func orSource(m engine.MountPoint) string {
	if m.Name != "" {
		return m.Name
	}
	return m.Source
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// verifyAddr is where the service answers: --verify, else Port's
// published binding (the loopback for an all-interfaces one), else the
// container's address on its first network.
func verifyAddr(c engine.ContainerInspect, t Target) (string, error) {
	if t.Verify != "" {
		if _, _, err := net.SplitHostPort(t.Verify); err != nil {
			return "", fmt.Errorf("--verify %q: want HOST:PORT", t.Verify)
		}
		return t.Verify, nil
	}
	if t.Port <= 0 || t.Port > 65535 {
		return "", errors.New("say where the service answers TLS: --port N (its port in the container) or --verify HOST:PORT")
	}
	if c.NetworkSettings != nil {
		p, err := network.ParsePort(strconv.Itoa(t.Port) + "/tcp")
		if err == nil {
			for _, b := range c.NetworkSettings.Ports[p] {
				if b.HostPort == "" {
					continue
				}
				ip := b.HostIP
				if !ip.IsValid() || ip.IsUnspecified() {
					ip = netip.MustParseAddr("127.0.0.1")
				}
				return net.JoinHostPort(ip.String(), b.HostPort), nil
			}
		}
		for _, n := range c.NetworkSettings.Networks {
			if n != nil && n.IPAddress.IsValid() {
				return net.JoinHostPort(n.IPAddress.String(), strconv.Itoa(t.Port)), nil
			}
		}
	}
	return "", fmt.Errorf("container %s publishes no port %d and has no network address: give --verify HOST:PORT", strings.TrimPrefix(c.Name, "/"), t.Port)
}

func ownerOf(st fs.FileInfo) (int, int) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), int(sys.Gid)
	}
	return 0, 0
}
