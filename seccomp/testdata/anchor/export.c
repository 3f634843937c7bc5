// export: libseccomp compiling a list of rules and exporting the BPF, and
// nothing else. It is the anchor of `scripts/seccomp-perf.sh`: ctsec's
// validate + compile of a profile against libseccomp's own export of the
// same rules (written by TestAnchorRules into a .rules file).
//
//   cc -O2 -o export export.c $(pkg-config --cflags --libs libseccomp)
//   ./export default-amd64.rules OPTIMIZE [OUT]  # OPTIMIZE: 1 (runc 1.1) or 2 (runc 1.2+)
//
// The BPF goes to OUT, /dev/null when it is not given (the timed runs).
//
// .rules lines: "default ACTION", "arch NAME", then "rule ACTION NAME N" and
// N lines "cond ARG OP DATUM_A DATUM_B" (libseccomp's own numbers).
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what, int rc) {
	fprintf(stderr, "export: %s: %s\n", what, strerror(-rc));
	exit(2);
}

int main(int argc, char **argv) {
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: export FILE.rules OPTIMIZE [OUT]\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 2;
	}
	scmp_filter_ctx ctx = NULL;
	char line[512];
	while (fgets(line, sizeof line, in)) {
		char word[64], name[128];
		unsigned long act;
		unsigned int n;
		if (sscanf(line, "default %lx", &act) == 1) {
			if (!(ctx = seccomp_init((uint32_t)act)))
				die("seccomp_init", -ENOMEM);
			int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
			if (!rc && atoi(argv[2]) == 2)
				rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
			if (rc)
				die("seccomp_attr_set", rc);
		} else if (sscanf(line, "arch %63s", word) == 1) {
			int rc = seccomp_arch_add(ctx, seccomp_arch_resolve_name(word));
			if (rc && rc != -EEXIST)
				die(word, rc);
		} else if (sscanf(line, "rule %lx %127s %u", &act, name, &n) == 3) {
			struct scmp_arg_cmp conds[6];
			if (n > 6)
				die("too many conditions", -EINVAL);
			for (unsigned int i = 0; i < n; i++) {
				unsigned int arg, op;
				unsigned long long a, b;
				if (!fgets(line, sizeof line, in) || sscanf(line, "cond %u %u %llx %llx", &arg, &op, &a, &b) != 4)
					die("cond line", -EINVAL);
				conds[i] = (struct scmp_arg_cmp){arg, op, a, b};
			}
			int nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR)
				continue; // runc drops names libseccomp cannot resolve
			int rc = seccomp_rule_add_array(ctx, (uint32_t)act, nr, n, conds);
			if (rc)
				die(name, rc);
		}
	}
	int out = open(argc == 4 ? argv[3] : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		perror(argc == 4 ? argv[3] : "/dev/null");
		return 2;
	}
	int rc = seccomp_export_bpf(ctx, out);
	if (rc)
		die("seccomp_export_bpf", rc);
	seccomp_release(ctx);
	return 0;
}
