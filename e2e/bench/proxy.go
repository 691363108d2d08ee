// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/diagkit/diagkit/e2e/framework"
)

// ThroughProxy is the HTTPS-without-authentication manager scraped through diagkit-proxy: HTTPS and a
// token review in front, HTTPS to the manager behind.
var ThroughProxy = Mode{Name: "through diagkit-proxy", Secure: true, Authenticated: true}

// proxyUpstream is the upstream's name in diagkit-proxy.
const proxyUpstream = "sample-manager"

// Proxy is diagkit-proxy, run as a process, measured against scraping its upstream directly.
type Proxy struct {
	// Latency of the direct scrape (HTTPSNoAuth) and the proxied one (ThroughProxy), interleaved.
	Latency map[string]Latency
	// Scrapes through the proxy, Warmup included: what CPU and Reviews are counted over.
	Scrapes, Warmup int
	// CPU is the proxy's user and system time over those scrapes.
	CPU time.Duration
	// Resident set before the first scrape, after the last, and its peak.
	RSSIdle, RSS, RSSPeak int64
	Reviews               Reviews
}

// per1000 scales a count over p.Scrapes to 1,000 scrapes.
func (p Proxy) per1000(v float64) float64 {
	if p.Scrapes == 0 {
		return 0
	}
	return v * 1000 / float64(p.Scrapes)
}

// runProxy builds cmd/diagkit-proxy, runs it in front of the HTTPS-without-authentication manager with its
// own ServiceAccount, and scrapes it and the manager n times each, interleaved, with one new token.
func (e *env) runProxy(ctx context.Context, n, warmup int) (Proxy, error) {
	bin, err := framework.BuildPackage(ctx, e.dir, "./cmd/diagkit-proxy")
	if err != nil {
		return Proxy{}, err
	}
	kubeconfig := filepath.Join(e.dir, "proxy.kubeconfig")
	if err := e.cp.ServiceAccountKubeconfig(ctx, namespace, "bench-proxy", kubeconfig); err != nil {
		return Proxy{}, err
	}
	// Only the two reviews: what node-metrics-proxy's role grants the proxy.
	if err := e.cp.Grant(ctx, namespace, "bench-proxy", "diagkit-bench-proxy",
		rbacv1.PolicyRule{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		rbacv1.PolicyRule{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}}); err != nil {
		return Proxy{}, err
	}
	// The proxy may authorize the component-scoped path (/NAME/metrics) or the request path (/metrics),
	// depending on its authz-prefix: the namespace's ServiceAccounts may read both.
	if err := e.cp.EnsureClusterRole(ctx, "diagkit-bench-proxied-reader", rbacv1.PolicyRule{NonResourceURLs: []string{"/" + proxyUpstream + "/metrics"}, Verbs: []string{"get"}}); err != nil {
		return Proxy{}, err
	}
	if err := e.cp.BindSubject(ctx, rbacv1.GroupKind, "system:serviceaccounts:"+namespace, "diagkit-bench-proxied-reader"); err != nil {
		return Proxy{}, err
	}
	addr, err := framework.FreeAddress()
	if err != nil {
		return Proxy{}, err
	}
	// The manager's serving certificate is self-signed, as kube-controller-manager's is under kubeadm; it
	// needs no credentials, so the proxy sends none (no token-file).
	upstream := fmt.Sprintf("--upstream=%s,url=https://%s,path=/metrics,insecure-skip-verify=true,listen=%s", proxyUpstream, e.addrs[HTTPSNoAuth.Name], addr)
	p, err := startProcess(bin, filepath.Join(e.dir, "diagkit-proxy.log"), addr, "--kubeconfig="+kubeconfig, upstream, "--zap-log-level=error")
	if err != nil {
		return Proxy{}, err
	}
	defer p.stop()
	e.addrs[ThroughProxy.Name] = addr

	time.Sleep(time.Second) // let start-up settle before reading the idle resident set
	var out Proxy
	if out.RSSIdle, _, err = procMemory(p.pid()); err != nil {
		return Proxy{}, err
	}
	tokens, err := e.tokens(ctx, "proxy", 1)
	if err != nil {
		return Proxy{}, err
	}
	cpu0, err := procCPU(p.pid())
	if err != nil {
		return Proxy{}, err
	}
	modes := []Mode{HTTPSNoAuth, ThroughProxy}
	var lerr error
	out.Reviews, err = e.countReviews(ctx, func() (int, map[int]int) {
		out.Latency, lerr = e.latencies(ctx, modes, n, warmup, false, 0, func(Mode, int) string { return tokens[0] })
		return n + warmup, nil
	})
	if err = errors.Join(err, lerr); err != nil {
		return Proxy{}, err
	}
	cpu1, err := procCPU(p.pid())
	if err != nil {
		return Proxy{}, err
	}
	out.Scrapes, out.Warmup, out.CPU = n+warmup, warmup, cpu1-cpu0
	if out.RSS, out.RSSPeak, err = procMemory(p.pid()); err != nil {
		return Proxy{}, err
	}
	if f := out.Latency[ThroughProxy.Name].Failures; f > 0 {
		return out, fmt.Errorf("%d of %d scrapes through diagkit-proxy failed\n%s", f, n, p.logs())
	}
	return out, nil
}

// process is a child process whose id the bench needs, for /proc.
type process struct {
	cmd     *exec.Cmd
	logFile string
	done    chan struct{}
}

// startProcess runs bin with args, its output in logFile, and returns once address accepts connections.
func startProcess(bin, logFile, address string, args ...string) (*process, error) {
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	p := &process{cmd: exec.Command(bin, args...), logFile: logFile, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before listening on %s\n%s", filepath.Base(bin), address, p.logs())
		default:
		}
		if framework.WaitForListener(address, time.Second) == nil {
			return p, nil
		}
	}
	p.stop()
	return nil, fmt.Errorf("%s does not listen on %s after a minute\n%s", filepath.Base(bin), address, p.logs())
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) logs() string {
	b, _ := os.ReadFile(p.logFile)
	return string(b)
}

// stop sends SIGTERM and waits, killing the process after 10 s.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// procCPU is the user and system time a process has used, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	return parseStatCPU(string(b))
}

// userHZ is the unit of /proc's CPU times: fixed at 100 per second for user space on Linux, whatever the
// kernel's own tick.
const userHZ = 100

// parseStatCPU reads utime and stime (fields 14 and 15) from a /proc/<pid>/stat line. The command name
// (field 2) is in parentheses and may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse process stat: no command name in %.40q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("parse process stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse process stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// procMemory is a process's resident set and its peak, from /proc/<pid>/status.
func procMemory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read process status: %w", err)
	}
	return parseStatusMemory(string(b))
}

// parseStatusMemory reads VmRSS and VmHWM (kB) from /proc/<pid>/status.
func parseStatusMemory(status string) (rss, peak int64, err error) {
	found := 0
	for _, line := range strings.Split(status, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse process status %s: %w", key, err)
		}
		if key == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("parse process status: VmRSS or VmHWM missing")
	}
	return rss, peak, nil
}
