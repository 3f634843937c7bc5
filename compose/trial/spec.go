package trial

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/ctsec/ctsec/compose"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

// A trial runs services the way docker compose would, with three changes
// that keep it beside production: no host port is published (the service
// is reached on its container's address), every volume is a fresh one made
// for the trial (named volumes, and host directories mounted read-write),
// and engine sockets are not mounted. Host files mounted read-write are
// mounted read-only. Everything the trial makes carries the label
// ctsec.trial=<id> and is removed afterwards.

// LoadProject reads a compose file's services as docker compose would
// deploy them: interpolated with env, paths resolved from the file's
// directory.
func LoadProject(ctx context.Context, name string, src []byte, env compose.Env) (*types.Project, error) {
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		return nil, err
	}
	e := types.Mapping{}
	for k, v := range env {
		e[k] = v
	}
	p, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: name, Content: src}},
		Environment: e,
	}, func(o *loader.Options) {
		o.SetProjectName("ctsec-trial", true)
		o.SkipConsistencyCheck = true
	})
	if err != nil {
		return nil, fmt.Errorf("loading %s for a trial: %w", name, err)
	}
	return p, nil
}

// variant is how a trial changes a service from what the file says.
type variant struct {
	caps     []string // with dropAll: the capabilities kept
	dropAll  bool
	nnp      bool
	readOnly bool
	tmpfs    []string
}

func (v variant) String() string {
	if !v.dropAll && !v.nnp && !v.readOnly {
		return "as written"
	}
	var parts []string
	if v.dropAll {
		c := "none"
		if len(v.caps) > 0 {
			c = strings.Join(v.caps, ",")
		}
		parts = append(parts, "capabilities "+c)
	}
	if v.nnp {
		parts = append(parts, "no-new-privileges")
	}
	if v.readOnly {
		parts = append(parts, "read-only root")
	}
	return strings.Join(parts, ", ")
}

// unsupported says why a service cannot run as a trial, "" when it can.
func unsupported(s types.ServiceConfig) string {
	switch {
	case s.Image == "":
		return "no image (build: services must be built and tagged first)"
	case s.NetworkMode == "host":
		return "network_mode: host shares the host's ports; a trial would collide with the running stack"
	case strings.HasPrefix(s.NetworkMode, "container:"), strings.HasPrefix(s.NetworkMode, "service:"):
		return "network_mode " + s.NetworkMode + " joins another container's network"
	case s.Pid == "host", s.Ipc == "host", s.UserNSMode == "host":
		return "shares a host namespace (pid, ipc or userns host)"
	}
	return ""
}

// spec is what the engine is asked to create for one run of a service.
type spec struct {
	config  *container.Config
	host    *container.HostConfig
	network *network.NetworkingConfig
	notes   []string // what the trial does differently, for the evidence
}

func (tr *Trial) spec(s types.ServiceConfig, v variant, name string) (spec, error) {
	sp := spec{
		config: &container.Config{
			Image:      s.Image,
			User:       s.User,
			WorkingDir: s.WorkingDir,
			Tty:        s.Tty,
			OpenStdin:  s.StdinOpen,
			StopSignal: s.StopSignal,
			Hostname:   s.Hostname,
			Labels:     map[string]string{labelTrial: tr.id, labelService: s.Name},
		},
		host: &container.HostConfig{
			NetworkMode:    container.NetworkMode(tr.network),
			CapAdd:         append([]string(nil), s.CapAdd...),
			CapDrop:        append([]string(nil), s.CapDrop...),
			SecurityOpt:    append([]string(nil), s.SecurityOpt...),
			Privileged:     s.Privileged,
			ReadonlyRootfs: s.ReadOnly,
			Init:           s.Init,
			Sysctls:        map[string]string(s.Sysctls),
			ShmSize:        int64(s.ShmSize),
			Tmpfs:          map[string]string{},
		},
		network: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			tr.network: {Aliases: []string{s.Name}},
		}},
	}
	if len(s.Entrypoint) > 0 {
		sp.config.Entrypoint = []string(s.Entrypoint)
	}
	if len(s.Command) > 0 {
		sp.config.Cmd = []string(s.Command)
	}
	var env []string
	for k, val := range s.Environment {
		if val != nil {
			env = append(env, k+"="+*val)
		}
	}
	sort.Strings(env)
	sp.config.Env = env
	if hc := s.HealthCheck; hc != nil {
		h := &container.HealthConfig{Test: []string(hc.Test)}
		if hc.Disable {
			h.Test = []string{"NONE"}
		}
		h.Interval, h.Timeout, h.StartPeriod = dur(hc.Interval), dur(hc.Timeout), dur(hc.StartPeriod)
		if hc.Retries != nil {
			h.Retries = int(*hc.Retries)
		}
		sp.config.Healthcheck = h
	}
	r := &sp.host.Resources
	r.Memory = int64(s.MemLimit)
	if s.PidsLimit != 0 {
		p := s.PidsLimit
		r.PidsLimit = &p
	}
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
		l := s.Deploy.Resources.Limits
		if l.MemoryBytes > 0 {
			r.Memory = int64(l.MemoryBytes)
		}
		if l.Pids > 0 {
			p := l.Pids
			r.PidsLimit = &p
		}
	}
	for name, u := range s.Ulimits {
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		r.Ulimits = append(r.Ulimits, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	for host, ips := range s.ExtraHosts {
		for _, ip := range ips {
			sp.host.ExtraHosts = append(sp.host.ExtraHosts, host+":"+ip)
		}
	}
	for _, t := range s.Tmpfs {
		p, opts, _ := strings.Cut(t, ":")
		sp.host.Tmpfs[p] = opts
	}
	if len(s.Devices) > 0 {
		sp.notes = append(sp.notes, fmt.Sprintf("%d host device(s) not mapped", len(s.Devices)))
	}
	for _, vol := range s.Volumes {
		m, note, err := tr.mount(s.Name, vol, name)
		if err != nil {
			return spec{}, err
		}
		if note != "" {
			sp.notes = append(sp.notes, note)
		}
		if m != nil {
			sp.host.Mounts = append(sp.host.Mounts, *m)
		}
	}
	if v.dropAll {
		sp.host.CapDrop = []string{"ALL"}
		sp.host.CapAdd = append([]string(nil), v.caps...)
	}
	if v.nnp {
		sp.host.SecurityOpt = append(sp.host.SecurityOpt, "no-new-privileges:true")
	}
	if v.readOnly {
		sp.host.ReadonlyRootfs = true
		for _, t := range v.tmpfs {
			sp.host.Tmpfs[t] = ""
		}
	}
	return sp, nil
}

func dur(d *types.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

// mount is a service volume as the trial mounts it.
func (tr *Trial) mount(service string, v types.ServiceVolumeConfig, run string) (*mount.Mount, string, error) {
	switch v.Type {
	case types.VolumeTypeTmpfs:
		m := &mount.Mount{Type: mount.TypeTmpfs, Target: v.Target}
		if v.Tmpfs != nil {
			m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size)}
		}
		return m, "", nil
	case types.VolumeTypeVolume:
		// A fresh volume per run: each starts as on a first deploy.
		name, err := tr.volume(service, run+"-"+volumeKey(v.Target))
		if err != nil {
			return nil, "", err
		}
		note := ""
		if v.Source != "" {
			note = "volume " + v.Source + " replaced by a fresh one"
		}
		return &mount.Mount{Type: mount.TypeVolume, Source: name, Target: v.Target, ReadOnly: v.ReadOnly}, note, nil
	case types.VolumeTypeBind:
		src := v.Source
		if compose.IsDockerSocket(src) {
			return nil, "engine socket " + src + " not mounted", nil
		}
		st, err := os.Stat(src)
		switch {
		case err != nil && v.ReadOnly:
			return nil, "", fmt.Errorf("bind source %s: %w", src, err)
		case err != nil || st.IsDir():
			if v.ReadOnly {
				return &mount.Mount{Type: mount.TypeBind, Source: src, Target: v.Target, ReadOnly: true}, "", nil
			}
			name, err := tr.volume(service, run+"-"+volumeKey(v.Target))
			if err != nil {
				return nil, "", err
			}
			return &mount.Mount{Type: mount.TypeVolume, Source: name, Target: v.Target},
				"host directory " + src + " replaced by a fresh volume", nil
		default:
			note := ""
			if !v.ReadOnly {
				note = "host file " + src + " mounted read-only"
			}
			return &mount.Mount{Type: mount.TypeBind, Source: src, Target: v.Target, ReadOnly: true}, note, nil
		}
	}
	return nil, "volume type " + string(v.Type) + " for " + v.Target + " not mounted", nil
}

func volumeKey(target string) string {
	k := strings.Trim(strings.NewReplacer("/", "-", ".", "-", " ", "-").Replace(path.Clean(target)), "-")
	if k == "" {
		k = "root"
	}
	return k
}
