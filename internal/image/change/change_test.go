package change

import (
	"encoding/json"
	"testing"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		changes []string
		want    string // the resulting config as JSON
	}{
		{[]string{`CMD ["sh", "-c", "echo hi"]`}, `{"Cmd":["sh","-c","echo hi"]}`},
		{[]string{`cmd echo hi there`}, `{"Cmd":["/bin/sh","-c","echo hi there"]}`},
		{[]string{`CMD [not json`}, `{"Cmd":["/bin/sh","-c","[not json"]}`},
		{[]string{`ENTRYPOINT ["/app", "--flag"]`, `CMD []`}, `{"Entrypoint":["/app","--flag"]}`},
		{[]string{`ENTRYPOINT /app run`}, `{"Entrypoint":["/bin/sh","-c","/app run"]}`},
		{[]string{`ENV A=1 B="two words"`, `ENV A 3 and more`}, `{"Env":["A=3 and more","B=two words"]}`},
		{[]string{`EXPOSE 80 443/TCP 53/udp 8000-8001`}, `{"ExposedPorts":{"443/tcp":{},"53/udp":{},"80/tcp":{},"8000-8001/tcp":{}}}`},
		{[]string{`WORKDIR /srv`, `WORKDIR app`}, `{"WorkingDir":"/srv/app"}`},
		{[]string{`USER app:app`}, `{"User":"app:app"}`},
		{[]string{`LABEL a=b "c d"=e`, `LABEL a=z`}, `{"Labels":{"a":"z","c d":"e"}}`},
		{[]string{`VOLUME ["/data", "/cache"]`}, `{"Volumes":{"/cache":{},"/data":{}}}`},
		{[]string{`VOLUME /data /logs`}, `{"Volumes":{"/data":{},"/logs":{}}}`},
		{[]string{`STOPSIGNAL SIGQUIT`}, `{"StopSignal":"SIGQUIT"}`},
	} {
		var cfg ocispec.ImageConfig
		if err := Apply(&cfg, tc.changes); err != nil {
			t.Errorf("%q: %v", tc.changes, err)
			continue
		}
		got, _ := json.Marshal(cfg)
		if string(got) != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.changes, got, tc.want)
		}
	}
}

func TestApplyRefuses(t *testing.T) {
	for _, c := range []string{
		"RUN echo hi",
		"FROM busybox",
		"EXPOSE 70000",
		"EXPOSE 80/icmp",
		"EXPOSE",
		"LABEL novalue",
		"ENV",
		"WORKDIR",
		"STOPSIGNAL",
		`ENV A="unterminated`,
	} {
		var cfg ocispec.ImageConfig
		err := Apply(&cfg, []string{c})
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("%q: got %v, want an invalid argument error", c, err)
		}
	}
	err := Apply(&ocispec.ImageConfig{}, []string{"RUN x"})
	if err == nil || err.Error() != "RUN is not a valid change command" {
		t.Errorf("RUN: got %v, want Docker's message", err)
	}
}
