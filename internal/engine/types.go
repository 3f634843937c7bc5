package engine

import (
	"net/netip"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

// The Engine API's objects as far as ctsec reads them, with the API's own
// field names (docs.docker.com/reference/api/engine). moby's types for
// containers, images and the engine link OCI's image-spec, whose digest
// package compiles its regexps in init: a third of what every lean command
// allocated before it ran (docs/startup.md). Networks and mounts stay
// moby's (github.com/moby/moby/api/types/network and mount), which link
// nothing of the kind. A field the engine sends and no type here names is
// ignored, as moby's types ignore the ones they do not know.

// Info is GET /info.
type Info struct {
	ID                 string
	Name               string
	ServerVersion      string
	OperatingSystem    string
	OSType             string
	Architecture       string
	KernelVersion      string
	Driver             string
	DockerRootDir      string
	LoggingDriver      string
	CgroupDriver       string
	CgroupVersion      string `json:",omitempty"`
	DefaultRuntime     string
	Debug              bool
	ExperimentalBuild  bool
	LiveRestoreEnabled bool
	SecurityOptions    []string
	Plugins            PluginsInfo
	RegistryConfig     *RegistryConfig
	Swarm              SwarmInfo
	Warnings           []string
}

// PluginsInfo is the plugins the engine has, by kind.
type PluginsInfo struct {
	Volume        []string
	Network       []string
	Authorization []string
	Log           []string
}

// RegistryConfig is how the engine reaches registries.
type RegistryConfig struct {
	InsecureRegistryCIDRs []netip.Prefix `json:"InsecureRegistryCIDRs"`
	IndexConfigs          map[string]*IndexInfo
	Mirrors               []string
}

// IndexInfo is one registry: Secure false means no TLS verification.
type IndexInfo struct {
	Name     string
	Mirrors  []string
	Secure   bool
	Official bool
}

// Swarm node states (Info.Swarm.LocalNodeState).
const (
	LocalNodeStateInactive = "inactive"
	LocalNodeStatePending  = "pending"
	LocalNodeStateActive   = "active"
	LocalNodeStateError    = "error"
	LocalNodeStateLocked   = "locked"
)

// SwarmInfo is this node's part in a swarm.
type SwarmInfo struct {
	NodeID           string
	NodeAddr         string
	LocalNodeState   string
	ControlAvailable bool
	Error            string
	Nodes            int `json:",omitempty"`
	Managers         int `json:",omitempty"`
	// Cluster is sent by managers only.
	Cluster *ClusterInfo `json:",omitempty"`
}

// ClusterInfo is the swarm's own configuration.
type ClusterInfo struct {
	ID   string
	Spec struct {
		Name             string
		EncryptionConfig struct{ AutoLockManagers bool }
		CAConfig         struct {
			NodeCertExpiry time.Duration `json:",omitempty"`
		}
	}
}

// Version is GET /version.
type Version struct {
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion,omitempty"`
	GitCommit     string
	GoVersion     string
	Os            string
	Arch          string
	KernelVersion string `json:",omitempty"`
	Experimental  bool   `json:",omitempty"`
	BuildTime     string `json:",omitempty"`
}

// ContainerSummary is one entry of GET /containers/json.
type ContainerSummary struct {
	ID      string `json:"Id"`
	Names   []string
	Image   string
	ImageID string
	Command string
	Created int64
	Labels  map[string]string
	State   string
	Status  string
	Mounts  []MountPoint
}

// ContainerInspect is GET /containers/ID/json.
type ContainerInspect struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           *ContainerState
	Image           string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	HostConfig      *HostConfig
	Mounts          []MountPoint
	Config          *ContainerConfig
	NetworkSettings *NetworkSettings
}

// ContainerState is whether and how a container runs.
type ContainerState struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
	Health     *Health `json:",omitempty"`
}

// Health is the state of a container's health check.
type Health struct {
	Status        string
	FailingStreak int
}

// HostConfig is how a container was asked to run on the host.
type HostConfig struct {
	Binds         []string
	LogConfig     LogConfig
	NetworkMode   string
	PortBindings  network.PortMap
	RestartPolicy RestartPolicy
	AutoRemove    bool
	VolumesFrom   []string

	CapAdd          []string
	CapDrop         []string
	CgroupnsMode    string
	GroupAdd        []string
	IpcMode         string
	PidMode         string
	Privileged      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	SecurityOpt     []string
	Tmpfs           map[string]string `json:",omitempty"`
	UTSMode         string
	UsernsMode      string
	ShmSize         int64
	Sysctls         map[string]string `json:",omitempty"`
	Runtime         string            `json:",omitempty"`

	Resources

	Mounts        []mount.Mount `json:",omitempty"`
	MaskedPaths   []string
	ReadonlyPaths []string
	Init          *bool `json:",omitempty"`
}

// LogConfig is a container's logging driver.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// RestartPolicy is when the engine restarts a container.
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// Resources are a container's limits.
type Resources struct {
	CPUShares         int64 `json:"CpuShares"`
	Memory            int64
	NanoCPUs          int64 `json:"NanoCpus"`
	CgroupParent      string
	CPUPeriod         int64 `json:"CpuPeriod"`
	CPUQuota          int64 `json:"CpuQuota"`
	CpusetCpus        string
	CpusetMems        string
	Devices           []DeviceMapping
	DeviceCgroupRules []string
	MemoryReservation int64
	MemorySwap        int64
	OomKillDisable    *bool
	PidsLimit         *int64
	Ulimits           []*Ulimit
}

// DeviceMapping is a host device given to a container.
type DeviceMapping struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string
}

// Ulimit is one resource limit of a container's processes.
type Ulimit struct {
	Name string
	Hard int64
	Soft int64
}

// ContainerConfig is a container's configuration that does not depend on
// the host.
type ContainerConfig struct {
	Hostname    string
	User        string
	Env         []string
	Cmd         []string
	Healthcheck *HealthConfig `json:",omitempty"`
	Image       string
	WorkingDir  string
	Entrypoint  []string
	Labels      map[string]string
	StopSignal  string `json:",omitempty"`
}

// HealthConfig is a health check: Test is ["NONE"] (disabled), ["CMD",
// args...], ["CMD-SHELL", command], or empty (inherited).
type HealthConfig struct {
	Test          []string      `json:",omitempty"`
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// NetworkSettings are a container's networks and published ports.
type NetworkSettings struct {
	SandboxID  string
	SandboxKey string
	Ports      network.PortMap
	Networks   map[string]*network.EndpointSettings
}

// MountPoint is a mount a container has.
type MountPoint struct {
	Type        mount.Type `json:",omitempty"`
	Name        string     `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation mount.Propagation
}

// TopResponse is GET /containers/ID/top: a ps(1) table.
type TopResponse struct {
	Titles    []string
	Processes [][]string
}

// ExecInspect is GET /exec/ID/json.
type ExecInspect struct {
	ID          string
	Running     bool
	ExitCode    *int
	ContainerID string
	Pid         int
}

// ImageSummary is one entry of GET /images/json.
type ImageSummary struct {
	ID          string `json:"Id"`
	ParentID    string `json:"ParentId"`
	RepoTags    []string
	RepoDigests []string
	Created     int64
	Size        int64
	Labels      map[string]string
	Containers  int64
}

// ImageInspect is GET /images/ID/json.
type ImageInspect struct {
	ID           string `json:"Id"`
	RepoTags     []string
	RepoDigests  []string
	Comment      string
	Created      string `json:",omitempty"`
	Author       string
	Config       *ImageConfig
	Architecture string
	Os           string
	Size         int64
}

// ImageConfig is what an image gives the containers made from it.
type ImageConfig struct {
	User        string              `json:",omitempty"`
	Env         []string            `json:",omitempty"`
	Entrypoint  []string            `json:",omitempty"`
	Cmd         []string            `json:",omitempty"`
	Volumes     map[string]struct{} `json:",omitempty"`
	WorkingDir  string              `json:",omitempty"`
	Labels      map[string]string   `json:",omitempty"`
	StopSignal  string              `json:",omitempty"`
	Healthcheck *HealthConfig       `json:",omitempty"`
	Shell       []string            `json:",omitempty"`
}

// ImageHistoryItem is one layer of GET /images/ID/history, newest first.
type ImageHistoryItem struct {
	ID        string `json:"Id"`
	Created   int64
	CreatedBy string
	Tags      []string
	Size      int64
	Comment   string
}
