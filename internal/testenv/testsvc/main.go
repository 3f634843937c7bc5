// Command testsvc is the service inside ctsec's test images: a small HTTP
// server that, before it serves, does what real images' entrypoints do —
// write configuration into /etc, chown a data directory and drop to a user,
// use a capability its file carries, allocate memory, read a file the image
// ships under /tmp — and exits with a message when that fails, as they do.
//
//	testsvc serve [-port N] [-write PATH] [-chown PATH -drop UID] [-rawsocket] [-alloc MB] [-need PATH]
//	testsvc probe URL
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		probe(os.Args[2:])
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fail("usage: testsvc serve|probe")
	}
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	port := fs.Int("port", 8080, "port to serve on")
	write := fs.String("write", "", "file to write at start")
	chown := fs.String("chown", "", "path to chown to -drop's uid")
	drop := fs.Int("drop", -1, "uid to setuid to (no setgid, no setgroups)")
	raw := fs.Bool("rawsocket", false, "open a raw ICMP socket (needs CAP_NET_RAW in effect)")
	alloc := fs.Int("alloc", 0, "MB to allocate and keep")
	need := fs.String("need", "", "file that must exist")
	fs.Parse(os.Args[2:])

	if *write != "" {
		if err := os.MkdirAll(dir(*write), 0o755); err != nil {
			fail("mkdir: %v", err)
		}
		if err := os.WriteFile(*write, []byte("generated at start\n"), 0o644); err != nil {
			fail("writing config: %v", err)
		}
	}
	if *chown != "" {
		if err := os.Chown(*chown, *drop, -1); err != nil {
			fail("chown %s: %v", *chown, err)
		}
	}
	if *drop >= 0 {
		if err := syscall.Setuid(*drop); err != nil {
			fail("setuid %d: %v", *drop, err)
		}
	}
	if *raw {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
		if err != nil {
			fail("raw socket: %v", err)
		}
		syscall.Close(fd)
	}
	var keep [][]byte
	for i := 0; i < *alloc; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j)
		}
		keep = append(keep, b)
	}
	if *need != "" {
		if _, err := os.Stat(*need); err != nil {
			fail("missing shipped file: %v", err)
		}
	}
	fmt.Printf("serving on %d as uid %d (%d MB held)\n", *port, os.Getuid(), len(keep))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok", len(keep)) })
	if err := http.ListenAndServe(":"+strconv.Itoa(*port), nil); err != nil {
		fail("listen: %v", err)
	}
}

func probe(args []string) {
	if len(args) != 1 {
		fail("usage: testsvc probe URL")
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(args[0])
	if err != nil {
		fail("probe: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		fail("probe: %s", resp.Status)
	}
}

func dir(p string) string {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "/"
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testsvc: "+format+"\n", args...)
	os.Exit(1)
}
