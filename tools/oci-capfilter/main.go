// Command oci-capfilter is an OCI runtime that removes, from a container's
// capability sets, every capability missing from its own bounding set, then
// execs runc with the same arguments.
//
// Docker gives a privileged container every capability up to cap_last_cap;
// where the host's bounding set lacks one (some VMs drop CAP_SYS_RESOURCE),
// runc fails with "unable to apply caps: operation not permitted". Registered
// as Docker's default runtime, this lets such hosts run kind's privileged nodes.
//
// It rewrites the bundle's config.json on create and run, and the process
// file given with --process on exec. The real runtime is runc on PATH, or
// OCI_CAPFILTER_RUNTIME.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// capNames are the capabilities by number, as in linux/capability.h.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Global runc options that take a value in the next argument.
var globalWithValue = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}

func main() {
	runtime, err := realRuntime()
	if err != nil {
		fail(err)
	}
	args := os.Args[1:]
	if err := filter(args); err != nil {
		fail(err)
	}
	if err := syscall.Exec(runtime, append([]string{runtime}, args...), os.Environ()); err != nil {
		fail(fmt.Errorf("exec %s: %w", runtime, err))
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "oci-capfilter: %v\n", err)
	os.Exit(1)
}

func realRuntime() (string, error) {
	if p := os.Getenv("OCI_CAPFILTER_RUNTIME"); p != "" {
		return p, nil
	}
	self, _ := os.Executable()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "runc")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && p != self {
			return p, nil
		}
	}
	return exec.LookPath("runc")
}

// filter rewrites the OCI file that args' command reads, if any.
func filter(args []string) error {
	cmd, rest := command(args)
	var file string
	var nested bool
	switch cmd {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		file, nested = filepath.Join(bundle, "config.json"), true
	case "exec":
		file = flagValue(rest, "--process", "-p")
	}
	if file == "" {
		return nil
	}
	allowed, err := boundingSet()
	if err != nil {
		return err
	}
	return rewrite(file, nested, allowed)
}

// command splits args into the runc command and the arguments after it.
func command(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a, args[i+1:]
		}
		if !strings.Contains(a, "=") && globalWithValue[a] {
			i++
		}
	}
	return "", nil
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		for _, name := range []string{long, short} {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v
			}
		}
	}
	return ""
}

// boundingSet is the set of capability names in this process's bounding set.
func boundingSet() (map[string]bool, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		hex, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		bits, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("CapBnd %q: %w", hex, err)
		}
		set := map[string]bool{}
		for i, name := range capNames {
			if bits&(1<<i) != 0 {
				set[name] = true
			}
		}
		return set, nil
	}
	return nil, fmt.Errorf("no CapBnd line in /proc/self/status")
}

// rewrite removes capabilities outside allowed from the file's process
// capabilities: .process.capabilities in a config.json (nested), or
// .capabilities in an exec process file.
func rewrite(file string, nested bool, allowed map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	proc := doc
	if nested {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil
		}
		proc = p
	}
	caps, ok := proc["capabilities"].(map[string]any)
	if !ok {
		return nil
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if name, ok := c.(string); ok && !allowed[name] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, st.Mode().Perm())
}
