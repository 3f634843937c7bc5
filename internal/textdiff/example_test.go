package textdiff_test

import (
	"fmt"

	"github.com/ctsec/ctsec/internal/textdiff"
)

func ExampleUnified() {
	old := []byte("PermitRootLogin yes\nPasswordAuthentication yes\n")
	new := []byte("PermitRootLogin no\nPasswordAuthentication yes")
	fmt.Print(textdiff.Unified("/etc/ssh/sshd_config", "/etc/ssh/sshd_config", old, new))
	// Output:
	// --- /etc/ssh/sshd_config
	// +++ /etc/ssh/sshd_config
	// @@ -1,2 +1,2 @@
	// -PermitRootLogin yes
	// -PasswordAuthentication yes
	// +PermitRootLogin no
	// +PasswordAuthentication yes
	// \ No newline at end of file
}
