package portainer_test

import (
	"io"
	"os"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestMain(m *testing.M) {
	logrus.SetOutput(io.Discard) // compose-go's "version is obsolete" warnings
	os.Exit(m.Run())
}
