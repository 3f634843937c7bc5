package compose

import (
	"reflect"
	"testing"
)

// TestPiecesEqualWhole: loading a large stack as decoded pieces gives
// exactly the model compose-go makes of the whole file's text, before and
// after hardening, with anchors in and outside the services.
func TestPiecesEqualWhole(t *testing.T) {
	src := bigStack(1200)
	d, err := Parse("big.yml", src)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.pieces()); n < 3 {
		t.Fatalf("a 1,200-service stack loads as %d pieces", n)
	}
	res, err := Harden(d, Options{Policy: Strict})
	if err != nil {
		t.Fatal(err)
	}
	anchored := append([]byte("x-a: &a {restart: always}\n"), src[len("# generated benchmark stack\n"):]...)
	// An anchor inside one service that a service of another piece merges.
	anchored = append(anchored, []byte("  first: &first\n    image: busybox:1.36\n    cap_add: [CHOWN]\n")...)
	for i := 0; i < 10; i++ {
		anchored = append(anchored, []byte("  late"+string(rune('a'+i))+":\n    <<: *first\n    image: nginx:1.27\n")...)
	}
	for name, b := range map[string][]byte{"input": src, "hardened": res.Output, "anchors": anchored} {
		t.Run(name, func(t *testing.T) {
			whole, err := loadModel("big.yml", b)
			if err != nil {
				t.Fatal(err)
			}
			withoutExtensionKeys(whole)
			pd, err := Parse("big.yml", b)
			if err != nil {
				t.Fatal(err)
			}
			if len(pd.pieces()) < 2 {
				t.Fatal("not split")
			}
			if !reflect.DeepEqual(normalize(whole), normalize(pd.Model)) {
				t.Errorf("pieces' model differs at %s", firstDiff(normalize(whole), normalize(pd.Model), ""))
			}
		})
	}
}
