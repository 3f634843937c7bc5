package bench

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/ctsec/ctsec/internal/report"
)

// Section 4: container images and build files. What can be judged from the
// image config and history is; the rest is manual.

func imageChecks() []Check {
	m := func(id string, level int, title, fix string, eval func(*Snapshot) Outcome) Check {
		if eval == nil {
			eval = func(*Snapshot) Outcome { return manual("needs a review of how images are built and sourced") }
		}
		return Check{ID: id, Section: "4", Level: level, Severity: report.Info, Title: title, Remediation: fix, eval: eval}
	}
	return []Check{
		{ID: "4.1", Section: "4", Level: 1, Automated: true, Severity: report.Medium,
			Title:       "Ensure that a user for the container has been created",
			Remediation: "Set USER in the Dockerfile (or run with --user UID:GID) to a non-root user.",
			Differs:     "checks every container, stopped ones included, and treats 0, root and 0:GID as root.",
			eval: perContainer(func(c Container) string {
				u := ""
				if c.Config != nil {
					u = c.Config.User
				}
				if isRootUser(u) {
					if u == "" {
						return "runs as root (no user set)"
					}
					return fmt.Sprintf("runs as root (user %q)", u)
				}
				return ""
			}, "containers run as root", "every container runs as a non-root user")},
		m("4.2", 1, "Ensure that containers use only trusted base images", "Pull only from registries and publishers you trust; pin digests.", nil),
		m("4.3", 1, "Ensure that unnecessary packages are not installed in the container", "Build from minimal bases (distroless, alpine, scratch).", nil),
		m("4.4", 1, "Ensure images are scanned and rebuilt to include security patches", "Scan images in CI and rebuild them regularly.", nil),
		m("4.5", 2, "Ensure Content trust for Docker is enabled", "export DOCKER_CONTENT_TRUST=1 in the shells and CI jobs that pull images.",
			func(s *Snapshot) Outcome {
				return manual(fmt.Sprintf("DOCKER_CONTENT_TRUST is %q in ctsec's own environment; what matters is the environment of whoever pulls images", s.ContentTrust))
			}),
		{ID: "4.6", Section: "4", Level: 1, Automated: true, Severity: report.Low,
			Title:       "Ensure HEALTHCHECK instructions have been added to container images",
			Remediation: "Add a HEALTHCHECK instruction to the Dockerfile.",
			eval: func(s *Snapshot) Outcome {
				var items []Item
				for _, img := range s.Images {
					if img.Config == nil || img.Config.Healthcheck == nil || len(img.Config.Healthcheck.Test) == 0 || img.Config.Healthcheck.Test[0] == "NONE" {
						items = append(items, Item{Target: "image " + img.DisplayName(), Detail: "image has no HEALTHCHECK"})
					}
				}
				return failIf(items, "images without a health check", fmt.Sprintf("all %d images have a HEALTHCHECK", len(s.Images)))
			}},
		m("4.7", 1, "Ensure update instructions are not used alone in Dockerfiles", "Combine the package update and install in one RUN, with pinned versions.",
			historyEvidence(updateAlone, "RUN updates the package index without installing in the same layer")),
		m("4.8", 2, "Ensure setuid and setgid permissions are removed", "RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} + in the Dockerfile.", nil),
		m("4.9", 1, "Ensure that COPY is used instead of ADD in Dockerfiles", "Use COPY; fetch remote files with curl/wget in a verified step.",
			historyEvidence(addInstr, "layer made with ADD")),
		m("4.10", 1, "Ensure secrets are not stored in Dockerfiles", "Use build secrets (RUN --mount=type=secret) instead of ENV/ARG/COPY.",
			secretEvidence),
		m("4.11", 2, "Ensure only verified packages are installed", "Verify package signatures (the distribution's package manager does by default).", nil),
		m("4.12", 1, "Ensure all signed artifacts are validated", "Verify signatures of images and artifacts before use.", nil),
	}
}

func isRootUser(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "" || name == "0" || name == "root"
}

var (
	// An update with no install/upgrade in the same RUN.
	updateRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\b(apt-get|apt|yum|dnf|apk|zypper)\s+(update|makecache|refresh)\b`)
	})
	installRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\b(install|add|upgrade|dist-upgrade)\b`) })
	addRe     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(^|#\(nop\)\s+|^/bin/sh -c #\(nop\) )ADD\s`) })
	secretRe  = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\b[A-Z0-9_]*(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|ACCESS_KEY)[A-Z0-9_]*=\S+`)
	})
)

func updateAlone(createdBy string) bool {
	return updateRe().MatchString(createdBy) && !installRe().MatchString(updateRe().ReplaceAllString(createdBy, ""))
}

// addInstr finds ADD in every layer, the oldest included
// (docker-bench-security drops the oldest history line and misses it).
func addInstr(createdBy string) bool {
	return addRe().MatchString(strings.TrimSpace(createdBy))
}

func historyEvidence(match func(string) bool, what string) func(*Snapshot) Outcome {
	return func(s *Snapshot) Outcome {
		var items []Item
		for _, img := range s.Images {
			for _, h := range img.History {
				if match(h.CreatedBy) {
					items = append(items, Item{Target: "image " + img.DisplayName(), Detail: what + ": " + truncate(h.CreatedBy, 120)})
					break
				}
			}
		}
		if len(items) == 0 {
			return manual(fmt.Sprintf("nothing found in the history of %d images; Dockerfiles themselves need review", len(s.Images)))
		}
		return manual(fmt.Sprintf("%d images to review", len(items)), items...)
	}
}

// secretEvidence names environment variables and build steps that look like
// they carry secrets. Values are never repeated in the output.
func secretEvidence(s *Snapshot) Outcome {
	var items []Item
	for _, img := range s.Images {
		var keys []string
		if img.Config != nil {
			for _, e := range img.Config.Env {
				if secretRe().MatchString(e) {
					k, _, _ := strings.Cut(e, "=")
					keys = append(keys, k)
				}
			}
		}
		for _, h := range img.History {
			for _, m := range secretRe().FindAllString(h.CreatedBy, -1) {
				k, _, _ := strings.Cut(m, "=")
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			items = append(items, Item{Target: "image " + img.DisplayName(), Detail: "variables that look like secrets: " + strings.Join(dedupe(keys), ", ")})
		}
	}
	if len(items) == 0 {
		return manual("no secret-looking variables in image configs or history; Dockerfiles themselves need review")
	}
	return manual(fmt.Sprintf("%d images to review", len(items)), items...)
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
