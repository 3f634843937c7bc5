package main

// One-line summaries of the commands a lean build lists but runs through
// ctsec-compose, shared so both builds' --help say the same.
const (
	composeShort   = "Audit and harden Docker Compose files"
	portainerShort = "Audit and harden Portainer stacks through its API"
	manUse         = "man --dir DIR"
	manShort       = "Write ctsec's man pages (section 1) into DIR"
)
