// SPDX-License-Identifier: Apache-2.0

package framework

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SampleManagerPackage is the manager the tests run: a controller-runtime manager using diagnostics.
const SampleManagerPackage = "github.com/diagkit/diagkit/e2e/samplemanager"

// BuildSampleManager compiles the sample manager into dir and returns the binary's path.
func BuildSampleManager(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "samplemanager")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, SampleManagerPackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", SampleManagerPackage, err, out)
	}
	return bin, nil
}

// Manager is a running sample manager process.
type Manager struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
	err  error
}

// StartManager runs the binary with the kubeconfig and args, and returns once address accepts
// connections.
func StartManager(bin, kubeconfig, address string, args ...string) (*Manager, error) {
	return StartProcess(bin, nil, address, append([]string{"--kubeconfig=" + kubeconfig, "--zap-log-level=10"}, args...)...)
}

// StartProcess runs any manager binary with extra environment (KUBECONFIG, for managers that do not
// register --kubeconfig) and args, and returns once address accepts connections.
func StartProcess(bin string, env []string, address string, args ...string) (*Manager, error) {
	m := &Manager{logs: &lockedBuffer{}, done: make(chan struct{})}
	m.cmd = exec.Command(bin, args...)
	m.cmd.Env = append(os.Environ(), env...)
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { m.err = m.cmd.Wait(); close(m.done) }()

	if err := waitForListener(address, 60*time.Second, m.done); err != nil {
		_ = m.Stop()
		return nil, fmt.Errorf("start manager: %w\n%s", err, m.Logs())
	}
	return m, nil
}

// WaitForListener returns once address accepts TCP connections, or an error after timeout.
func WaitForListener(address string, timeout time.Duration) error {
	return waitForListener(address, timeout, nil)
}

func waitForListener(address string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("process exited before listening on %s", address)
		default:
		}
		if c, err := net.DialTimeout("tcp", address, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %s", address, timeout)
}

// RSS returns the manager's resident set size and its peak, in bytes, from /proc.
func (m *Manager) RSS() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read manager status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			rss = kb * 1024
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
			peak = kb * 1024
		}
	}
	return rss, peak, nil
}

// Logs returns everything the manager printed so far.
func (m *Manager) Logs() string { return m.logs.String() }

// Stop asks the manager to shut down (SIGTERM) and waits for it, killing it after 30s.
func (m *Manager) Stop() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
		return errors.New("manager did not stop within 30s of SIGTERM")
	}
	return nil
}

// FreeAddress returns a loopback host:port that nothing listens on right now.
func FreeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// TempDir makes a directory for a run's binaries and kubeconfigs.
func TempDir() (string, error) { return os.MkdirTemp("", "diagkit-e2e-") }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Listening returns the TCP addresses the process listens on, from /proc: its socket inodes matched
// against the kernel's table of listening sockets.
func (m *Manager) Listening() ([]string, error) {
	pid := m.cmd.Process.Pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, fmt.Errorf("list the process's descriptors: %w", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil {
			if inode, ok := strings.CutPrefix(target, "socket:["); ok {
				inodes[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// local_address st ... inode: state 0A is LISTEN.
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			addrs = append(addrs, procAddress(f[1]))
		}
	}
	return addrs, nil
}

// procAddress turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080" (IPv6 in hex words).
func procAddress(s string) string {
	hexIP, hexPort, _ := strings.Cut(s, ":")
	port, _ := strconv.ParseUint(hexPort, 16, 16)
	raw, _ := hex.DecodeString(hexIP)
	ip := make(net.IP, len(raw))
	// The kernel prints each 32-bit word in host (little-endian) order.
	for i := 0; i+4 <= len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
}
