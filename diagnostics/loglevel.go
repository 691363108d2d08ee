// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	uberzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/component-base/logs"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// zapLevel is the level of a controller-runtime zap logger that PUT /debug/flags/v moves along with klog.
type zapLevel struct {
	mu    sync.Mutex
	level *uberzap.AtomicLevel
}

// FollowZap makes PUT /debug/flags/v also set the level of a logger built from these controller-runtime
// zap options: verbosity v enables logr V(v) messages, zap level -v, as controller-runtime maps them.
// Without it the endpoint sets only klog's verbosity, which a zap-based manager does not use.
//
// Call it after parsing flags (--zap-log-level sets zo.Level) and before crzap.New(crzap.UseFlagOptions(zo)):
//
//	diagnosticsOptions.FollowZap(&zapOptions)
//	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOptions)))
func (o *Options) FollowZap(zo *crzap.Options) {
	var lvl uberzap.AtomicLevel
	switch l := zo.Level.(type) {
	case uberzap.AtomicLevel:
		lvl = l
	case *uberzap.AtomicLevel:
		lvl = *l // an AtomicLevel is a handle: the copy changes the same level
	case nil:
		// controller-runtime's own defaults: debug in development mode, info otherwise.
		lvl = uberzap.NewAtomicLevelAt(zapcore.InfoLevel)
		if zo.Development {
			lvl = uberzap.NewAtomicLevelAt(zapcore.DebugLevel)
		}
	default:
		lvl = uberzap.NewAtomicLevelAt(lowestEnabled(l))
	}
	zo.Level = lvl
	if o.zap == nil {
		o.zap = &zapLevel{}
	}
	o.zap.mu.Lock()
	o.zap.level = &lvl
	o.zap.mu.Unlock()
}

// lowestEnabled is the most verbose level a fixed LevelEnabler lets through.
func lowestEnabled(l zapcore.LevelEnabler) zapcore.Level {
	for lvl := zapcore.Level(-127); lvl < zapcore.FatalLevel; lvl++ {
		if l.Enabled(lvl) {
			return lvl
		}
	}
	return zapcore.FatalLevel
}

// MaxVerbosity is the highest level PUT /debug/flags/v accepts. client-go before v0.32 (linked by
// controller-runtime v0.16–v0.19) logs whole request and response bodies from level 8, and a TokenReview's
// body is the caller's bearer token: no level the endpoint can reach may log one.
const MaxVerbosity = 7

// maxVerbosityBody bounds what a PUT /debug/flags/v body may hold: a level is a few digits.
const maxVerbosityBody = 64

// verbosityHandler serves PUT /debug/flags/v: the body is a level from 0 to MaxVerbosity, which sets
// klog's verbosity (as Cluster API does) and the zap level FollowZap registered. A larger body is 413, a
// level out of range or not a number 400 — the body is never echoed —, another method 406.
func (o *Options) verbosityHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPut {
			plainText(w, http.StatusNotAcceptable, "unsupported http method")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxVerbosityBody))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			plainText(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is a verbosity level: at most %d bytes", maxVerbosityBody))
			return
		case err != nil:
			plainText(w, http.StatusBadRequest, "cannot read the request body")
			return
		}
		msg, err := o.setVerbosity(string(body))
		if err != nil {
			plainText(w, http.StatusBadRequest, err.Error())
			return
		}
		plainText(w, http.StatusOK, msg)
	})
}

func plainText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, text)
}

// setVerbosity sets klog's verbosity, then the zap level FollowZap registered, if any, to a level from 0
// to MaxVerbosity. Its errors never quote the value: it comes from the request.
func (o *Options) setVerbosity(val string) (string, error) {
	v, err := strconv.Atoi(strings.TrimSpace(val))
	if err != nil || v < 0 || v > MaxVerbosity {
		return "", fmt.Errorf("expected a verbosity level from 0 to %d (from 8, client-go logs request bodies, bearer tokens included)", MaxVerbosity)
	}
	msg, err := logs.GlogSetter(strconv.Itoa(v))
	if err != nil {
		return "", err
	}
	if o.zap == nil {
		return msg, nil
	}
	o.zap.mu.Lock()
	defer o.zap.mu.Unlock()
	if o.zap.level == nil {
		return msg, nil
	}
	o.zap.level.SetLevel(zapcore.Level(-v))
	return msg + fmt.Sprintf(", and the zap level to %d", -v), nil
}
