package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/stacks-ils/stacks/migrations"
)

// The test binary doubles as the stacks binary: with STACKS_RUN_MAIN set it
// runs main() with the given arguments, so these tests exercise the real
// commands, environment handling and signals without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("STACKS_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func stacksCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Args[0] = "stacks"
	cmd.Env = append(os.Environ(), append([]string{"STACKS_RUN_MAIN=1"}, env...)...)
	return cmd
}

func adminURL() string {
	if v := os.Getenv("TEST_DATABASE_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func freshDatabase(t *testing.T) string {
	t.Helper()
	db, err := sql.Open("pgx", adminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("stacks_e2e_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, _ := sql.Open("pgx", adminURL())
		db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		db.Close()
	})
	u, _ := url.Parse(adminURL())
	u.Path = "/" + name
	return u.String()
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// With only DATABASE_URL (a superuser) and REDIS_URL set: migrate creates
// the restricted role and the schema; serve logs in as that role by itself;
// SIGTERM shuts down cleanly.
func TestServeWithOnlyOwnerURL(t *testing.T) {
	dbURL := freshDatabase(t)
	redisURL := os.Getenv("REDIS_URL")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/0"
	}
	env := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL, "APP_DATABASE_URL=", "LOG_LEVEL=warn"}
	for i := 0; i < 2; i++ { // migrate twice: the second run is a no-op
		if out, err := stacksCmd(env, "migrate").CombinedOutput(); err != nil {
			t.Fatalf("migrate #%d: %v\n%s", i+1, err, out)
		}
	}
	addr := freePort(t)
	cmd := stacksCmd(append(env, "HTTP_ADDR="+addr, "LOG_LEVEL=info"), "serve")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil && res.StatusCode == 200 {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never became ready: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := stacksCmd(append(env, "HTTP_ADDR="+addr), "healthcheck").CombinedOutput(); err != nil {
		t.Fatalf("healthcheck against a ready server: %v\n%s", err, out)
	}
	body := `{"library_name":"E2E","slug":"e2e-lib","admin_email":"o@e2e.example.org","admin_password":"end to end password","kind":"library","timezone":"UTC","country":"IE"}`
	res, err := http.Post(base+"/api/v1/signup", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("signup through serve: %d %s", res.StatusCode, raw)
	}
	// The command-line tools work on the same database.
	if out, err := stacksCmd(env, "gen", "--tenant", "e2e-lib", "--bibs", "50").CombinedOutput(); err != nil {
		t.Fatalf("gen: %v\n%s", err, out)
	}
	out, err := stacksCmd(env, "import", "marc", "testdata/marc/pymarc/test.dat", "--tenant", "e2e-lib").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10 created, 0 updated, 0 skipped, 0 failed") {
		t.Fatalf("import marc: %v\n%s", err, out)
	}
	if out, err := stacksCmd(env, "import", "marc", "testdata/marc/pymarc/test.dat").CombinedOutput(); err == nil {
		t.Fatalf("import without --tenant succeeded:\n%s", out)
	}
	// The server's pool is the restricted role, not the superuser of DATABASE_URL.
	db, _ := sql.Open("pgx", dbURL)
	defer db.Close()
	var users []string
	rows, err := db.Query(`SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		rows.Scan(&u)
		users = append(users, u)
	}
	rows.Close()
	if len(users) != 1 || users[0] != migrations.AppRole {
		t.Fatalf("serve's connections log in as %v, want only %s", users, migrations.AppRole)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
	if err := stacksCmd(append(env, "HTTP_ADDR="+addr), "healthcheck").Run(); err == nil {
		t.Fatal("healthcheck passed against a stopped server")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no orderly shutdown in logs:\n%s", logs.String())
	}
	var sawRequest bool
	sc := bufio.NewScanner(&logs)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "request" && line["path"] == "/api/v1/signup" {
			sawRequest = line["request_id"] != "" && line["status"] == float64(201)
		}
	}
	if !sawRequest {
		t.Fatal("no structured request log line for the signup")
	}
}

func TestConfigDerivesAppURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://admin:secret@db.internal:5433/stacks?sslmode=require")
	t.Setenv("APP_DATABASE_URL", "")
	c, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.AppDatabaseURL != "postgres://stacks_app@db.internal:5433/stacks?sslmode=require" {
		t.Fatalf("derived app URL %q", c.AppDatabaseURL)
	}
	t.Setenv("SESSION_TTL", "forever")
	if _, err := loadConfig(); err == nil {
		t.Fatal("bad SESSION_TTL accepted")
	}
}
