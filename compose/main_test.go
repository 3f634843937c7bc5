package compose

import (
	"io"
	"os"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestMain(m *testing.M) {
	// compose-go's "version is obsolete" warnings would bury test output.
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}
