package bench

import (
	"fmt"

	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/report"
)

// Section 6: security operations, and section 7: swarm.

func opsChecks() []Check {
	return []Check{
		{ID: "6.1", Section: "6", Level: 1, Severity: report.Info,
			Title:       "Ensure that image sprawl is avoided",
			Remediation: "Remove images no container uses: docker image prune -a (after review).",
			eval: func(s *Snapshot) Outcome {
				used := map[string]bool{}
				for _, c := range s.Containers {
					used[c.Image] = true
				}
				var items []Item
				for _, img := range s.Images {
					if !used[img.ID] {
						items = append(items, Item{Target: "image " + img.DisplayName(), Detail: "not used by any container"})
					}
				}
				return manual(fmt.Sprintf("%d images, %d not used by any container", len(s.Images), len(items)), items...)
			}},
		{ID: "6.2", Section: "6", Level: 1, Severity: report.Info,
			Title:       "Ensure that container sprawl is avoided",
			Remediation: "Remove containers that are not needed: docker container prune (after review).",
			eval: func(s *Snapshot) Outcome {
				running := 0
				for _, c := range s.Containers {
					if c.State != nil && c.State.Running {
						running++
					}
				}
				return manual(fmt.Sprintf("%d containers, %d running, %d not running", len(s.Containers), running, len(s.Containers)-running))
			}},
	}
}

func swarmActive(s *Snapshot) bool {
	st := s.Engine.Info.Swarm.LocalNodeState
	return st == engine.LocalNodeStateActive || st == engine.LocalNodeStateLocked
}

func swarmChecks() []Check {
	inSwarm := func(f func(*Snapshot) Outcome) func(*Snapshot) Outcome {
		return func(s *Snapshot) Outcome {
			if !swarmActive(s) {
				return skip("swarm mode is not enabled")
			}
			return f(s)
		}
	}
	m := func(id, title, fix string, f func(*Snapshot) Outcome) Check {
		if f == nil {
			f = func(*Snapshot) Outcome { return manual("needs a review of the swarm's operation") }
		}
		return Check{ID: id, Section: "7", Level: 1, Severity: report.Info, Title: title, Remediation: fix, eval: inSwarm(f)}
	}
	return []Check{
		m("7.1", "Ensure that the minimum number of manager nodes have been created in a swarm", "Demote excess managers: docker node demote ID.", func(s *Snapshot) Outcome {
			return manual(fmt.Sprintf("%d managers of %d nodes", s.Engine.Info.Swarm.Managers, s.Engine.Info.Swarm.Nodes))
		}),
		m("7.2", "Ensure that swarm services are bound to a specific host interface", "Re-initialise the swarm with --listen-addr on a specific interface.", func(s *Snapshot) Outcome {
			return manual("node address " + s.Engine.Info.Swarm.NodeAddr)
		}),
		{ID: "7.3", Section: "7", Level: 1, Automated: true, Severity: report.Medium,
			Title:       "Ensure that all Docker swarm overlay networks are encrypted",
			Remediation: "Create overlay networks with --opt encrypted.",
			eval: inSwarm(func(s *Snapshot) Outcome {
				var items []Item
				n := 0
				for _, nw := range s.Networks {
					if nw.Driver != "overlay" || nw.Name == "ingress" && nw.Ingress {
						continue
					}
					n++
					if _, ok := nw.Options["encrypted"]; !ok {
						items = append(items, Item{Target: "network " + nw.Name, Detail: "overlay network without encryption"})
					}
				}
				return failIf(items, "unencrypted overlay networks", fmt.Sprintf("%d overlay networks, all encrypted", n))
			})},
		m("7.4", "Ensure that Docker's secret management commands are used for managing secrets in a swarm cluster", "Use docker secret.", nil),
		{ID: "7.5", Section: "7", Level: 1, Automated: true, Severity: report.Medium,
			Title:       "Ensure that swarm manager is run in auto-lock mode",
			Remediation: "docker swarm update --autolock=true",
			eval: inSwarm(func(s *Snapshot) Outcome {
				cl := s.Engine.Info.Swarm.Cluster
				if !s.Engine.Info.Swarm.ControlAvailable || cl == nil {
					return skip("this node is not a manager")
				}
				if cl.Spec.EncryptionConfig.AutoLockManagers {
					return pass("managers auto-lock")
				}
				return fail("", Item{Target: "swarm", Detail: "managers do not auto-lock: the raft keys sit unencrypted on disk"})
			})},
		m("7.6", "Ensure that the swarm manager auto-lock key is rotated periodically", "docker swarm unlock-key --rotate", nil),
		m("7.7", "Ensure that node certificates are rotated as appropriate", "docker swarm update --cert-expiry 48h", func(s *Snapshot) Outcome {
			if cl := s.Engine.Info.Swarm.Cluster; cl != nil {
				return manual(fmt.Sprintf("node certificate expiry %s", cl.Spec.CAConfig.NodeCertExpiry))
			}
			return manual("node certificate expiry is visible on managers only")
		}),
		m("7.8", "Ensure that CA certificates are rotated as appropriate", "docker swarm ca --rotate", nil),
		m("7.9", "Ensure that management plane traffic is separated from data plane traffic", "Initialise with --advertise-addr and a separate --data-path-addr.", nil),
	}
}
