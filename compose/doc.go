// Package compose audits Docker Compose files and hardens them as a minimal,
// reviewable edit of the original text.
//
// Reading uses compose-go (the parser behind `docker compose`) for what a
// file means, and a go.yaml.in/yaml/v3 node tree for where things are.
// Writing never re-serialises: every change is an insertion spliced into the
// original bytes at a position taken from the node tree, so comments, blank
// lines, anchors, merge keys, ${VAR} and CRLF survive untouched. The result is
// loaded again with compose-go and compared with the original model, so a
// change that would alter anything but the intended fields is refused.
package compose
