// SPDX-License-Identifier: Apache-2.0

package diagnostics

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// boundedProfile refuses a CPU profile or trace longer than MaxProfileDuration with 400 before it starts:
// pprof itself takes any seconds= and holds the connection (and a CPU) for that long.
func (o *Options) boundedProfile(next http.Handler) http.Handler {
	limit := orDuration(o.MaxProfileDuration, DefaultMaxProfileDuration)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if v := req.URL.Query().Get("seconds"); v != "" {
			sec, err := strconv.ParseFloat(v, 64)
			if err != nil || sec <= 0 || time.Duration(sec*float64(time.Second)) > limit {
				plainText(w, http.StatusBadRequest, fmt.Sprintf("seconds must be a number above 0 and at most %g (--%s)", limit.Seconds(), FlagMaxProfileDuration))
				return
			}
		}
		next.ServeHTTP(w, req)
	})
}
