package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		cmd  string
	}{
		{[]string{"--root", "/run/runc", "--log", "/x.log", "--log-format", "json", "create", "--bundle", "/b", "id"}, "create"},
		{[]string{"--systemd-cgroup", "--root=/r", "exec", "--process", "/p.json", "id"}, "exec"},
		{[]string{"--version"}, ""},
		{[]string{"state", "id"}, "state"},
	} {
		if got, _ := command(tc.args); got != tc.cmd {
			t.Errorf("command(%v) = %q, want %q", tc.args, got, tc.cmd)
		}
	}
}

func TestFlagValue(t *testing.T) {
	for _, args := range [][]string{{"--bundle", "/b", "id"}, {"-b", "/b"}, {"--bundle=/b"}} {
		if got := flagValue(args, "--bundle", "-b"); got != "/b" {
			t.Errorf("flagValue(%v) = %q", args, got)
		}
	}
}

func TestRewriteKeepsOnlyBoundingSetAndOtherFields(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.json")
	in := `{"ociVersion":"1.0.2","process":{"args":["sh"],"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"]}},"root":{"path":"rootfs"}}`
	if err := os.WriteFile(file, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(file, true, map[string]bool{"CAP_CHOWN": true}); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	data, _ := os.ReadFile(file)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	caps := got["process"].(map[string]any)["capabilities"].(map[string]any)
	if !reflect.DeepEqual(caps["bounding"], []any{"CAP_CHOWN"}) || !reflect.DeepEqual(caps["effective"], []any{}) {
		t.Errorf("capabilities = %v", caps)
	}
	if got["root"].(map[string]any)["path"] != "rootfs" || got["ociVersion"] != "1.0.2" {
		t.Errorf("other fields changed: %s", data)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", st.Mode())
	}
}

func TestRewriteExecProcessFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(file, []byte(`{"args":["ls"],"capabilities":{"permitted":["CAP_KILL","CAP_SYS_RESOURCE"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(file, false, map[string]bool{"CAP_KILL": true}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	if string(data) != `{"args":["ls"],"capabilities":{"permitted":["CAP_KILL"]}}` {
		t.Errorf("got %s", data)
	}
}
