// children.go starts the servers under test as child processes, learns their address
// from the "listening on http://..." line they print, and makes sure every one of them
// is stopped when the bench ends, fails or is interrupted.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

type child struct {
	name    string
	cmd     *exec.Cmd
	url     string        // http://127.0.0.1:PORT
	exited  chan struct{} // closed once the process has been reaped
	logPath string        // its stdout and stderr
}

var (
	liveMu sync.Mutex
	live   = map[*child]bool{}
)

// startChild runs bin with args, its output going to <logDir>/<name>.log, and waits (at
// most a minute) for it to announce its address.
func startChild(name, logDir string, env []string, bin string, args ...string) (*child, error) {
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	liveMu.Lock()
	live[c] = true
	liveMu.Unlock()

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if _, u, ok := strings.Cut(line, "listening on "); ok && strings.HasPrefix(u, "http://") {
				select {
				case addr <- strings.TrimSpace(u):
				default:
				}
			}
		}
		io.Copy(logf, out) // drain whatever a too-long line left behind
		cmd.Wait()
		logf.Close()
		close(c.exited)
	}()

	select {
	case c.url = <-addr:
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("%s exited before listening:\n%s", name, tail(logPath))
	case <-time.After(time.Minute):
		c.stop()
		return nil, fmt.Errorf("%s did not print its address within a minute:\n%s", name, tail(logPath))
	}
}

// waitReady polls url until it answers 200, for at most timeout.
func (c *child) waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		status, _, err := fasthttp.GetTimeout(nil, url, time.Second)
		if err == nil && status == fasthttp.StatusOK {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited before it was ready:\n%s", c.name, tail(c.logPath))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s:\n%s", c.name, timeout, tail(c.logPath))
}

// stop asks the child to shut down (SIGTERM), kills it after 15 s, and reaps it.
func (c *child) stop() {
	liveMu.Lock()
	delete(live, c)
	liveMu.Unlock()
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		fmt.Fprintf(os.Stderr, "bench: %s ignored SIGTERM for 15s; killing it\n", c.name)
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// stopAll stops every child still running.
func stopAll() {
	liveMu.Lock()
	cs := make([]*child, 0, len(live))
	for c := range live {
		cs = append(cs, c)
	}
	liveMu.Unlock()
	for _, c := range cs {
		c.stop()
	}
}

// stopOnSignal stops the children and removes tmp when the bench is interrupted.
func stopOnSignal(tmp string) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-ch
		fmt.Fprintf(os.Stderr, "\nbench: %s, stopping servers\n", s)
		stopAll()
		os.RemoveAll(tmp)
		os.Exit(130)
	}()
}

// tail returns the last few KB of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
