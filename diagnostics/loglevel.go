// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"fmt"
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

// setVerbosity is the PUT /debug/flags/v setter: klog's verbosity, as Cluster API sets it, then the zap
// level FollowZap registered, if any.
func (o *Options) setVerbosity(val string) (string, error) {
	msg, err := logs.GlogSetter(val)
	if err != nil {
		return msg, err
	}
	if o.zap == nil {
		return msg, nil
	}
	o.zap.mu.Lock()
	defer o.zap.mu.Unlock()
	if o.zap.level == nil {
		return msg, nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(val))
	if err != nil {
		return "", fmt.Errorf("expected a verbosity level, found %q", val)
	}
	o.zap.level.SetLevel(zapcore.Level(-v))
	return msg + fmt.Sprintf(", and the zap level to %d", -v), nil
}
