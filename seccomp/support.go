package seccomp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Support is what this host offers for seccomp.
type Support struct {
	KernelActions []string `json:"kernel_actions"` // from actions_avail; empty when unknown
	Library       string   `json:"libseccomp"`     // libseccomp version linked in
	APILevel      uint     `json:"api_level"`      // libseccomp API level (user notification needs 5 or more)
	Notify        bool     `json:"notify"`         // user notification usable (kernel + library)
}

// DetectSupport reads the kernel's seccomp actions under root and asks the
// linked libseccomp for its version and API level.
func DetectSupport(root string) (Support, error) {
	var s Support
	maj, min, micro := libseccomp.GetLibraryVersion()
	s.Library = fmt.Sprintf("%d.%d.%d", maj, min, micro)
	level, err := libseccomp.GetAPI()
	if err != nil {
		return s, fmt.Errorf("asking libseccomp for its API level: %w", err)
	}
	s.APILevel = level
	p := filepath.Join(root, "proc/sys/kernel/seccomp/actions_avail")
	b, err := os.ReadFile(p)
	if err != nil {
		return s, fmt.Errorf("reading %s: %w", p, err)
	}
	s.KernelActions = strings.Fields(string(b))
	for _, a := range s.KernelActions {
		if a == "user_notif" && level >= 5 {
			s.Notify = true
		}
	}
	return s, nil
}
