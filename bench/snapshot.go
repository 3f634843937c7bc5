package bench

import (
	"time"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/moby/moby/api/types/network"
)

// Snapshot is everything the checks look at, taken once.
type Snapshot struct {
	Taken  time.Time `json:"taken"`
	Engine Engine    `json:"engine"`
	// Containers holds every container, running or stopped, as inspected.
	Containers []Container       `json:"containers"`
	Images     []Image           `json:"images"`
	Networks   []network.Inspect `json:"networks"`
	// Daemon is the dockerd process and its configuration; nil when the
	// engine is not on the host under Host.Root (a remote engine) or no
	// dockerd process serving it was found.
	Daemon *Daemon `json:"daemon,omitempty"`
	// Host is the host filesystem under a root; nil when host checks were
	// not collected (remote engine and no --root).
	Host *Host `json:"host,omitempty"`
	// ContentTrust is DOCKER_CONTENT_TRUST as ctsec itself saw it.
	ContentTrust string `json:"content_trust,omitempty"`
	// Notes are problems met while collecting that did not stop the run
	// (a container removed while being inspected, an unreadable file).
	Notes []string `json:"notes,omitempty"`
}

// Engine is what the Docker engine says about itself.
type Engine struct {
	Host       string      `json:"host"`
	APIVersion string      `json:"api_version"`
	Version    string      `json:"version"`
	Info       engine.Info `json:"info"`
}

// Container is one inspected container and, when it runs, its processes.
type Container struct {
	engine.ContainerInspect
	// Processes are what runs in it (its cgroup's members on a local
	// engine, ContainerTop otherwise), only for running containers.
	Processes []Process `json:"processes,omitempty"`
}

// DisplayName is the container name without Docker's leading slash.
func (c Container) DisplayName() string {
	if len(c.Name) > 1 && c.Name[0] == '/' {
		return c.Name[1:]
	}
	if c.Name != "" {
		return c.Name
	}
	return shortID(c.ID)
}

// Image is one image with its build history, newest layer first.
type Image struct {
	engine.ImageInspect
	History []engine.ImageHistoryItem `json:"history,omitempty"`
}

// DisplayName is the first tag, or the short ID of an untagged image.
func (i Image) DisplayName() string {
	for _, t := range i.RepoTags {
		if t != "<none>:<none>" {
			return t
		}
	}
	return shortID(i.ID)
}

func shortID(id string) string {
	if len(id) > 7 && id[:7] == "sha256:" {
		id = id[7:]
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
