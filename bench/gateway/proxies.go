package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// The third-party proxies, each configured as a plain HTTP/1.1 reverse
// proxy to one upstream with keep-alive on both sides and no access log
// (Berth's gateway is measured as it ships; see the report's notes).

// nginxConf: upstream keep-alive needs all three of keepalive,
// proxy_http_version 1.1 and an empty Connection header. keepalive_requests
// is raised on both sides: its default (1000) closes each connection after
// 1000 requests, which would make wrk and nginx reconnect every ~30 ms and
// measure connection setup rather than proxying.
const nginxConf = `daemon off;
master_process on;
worker_processes %s;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    upstream backend {
        server 127.0.0.1:%[3]d;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:%[4]d;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`

// haproxyConf: HTTP mode keeps both sides alive by default (http-keep-alive);
// it is spelled out, and idle server connections are shared between client
// connections (http-reuse always), the closest to an upstream pool.
// nbthread is left to HAProxy: one thread per CPU it may run on.
const haproxyConf = `global
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 300s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d
`

// caddyConf: reverse_proxy keeps upstream connections alive by default.
// The admin endpoint is off so that it takes no port and no CPU.
const caddyConf = `{
    admin off
    auto_https off
    persist_config off
}
http://:%d {
    bind 127.0.0.1
    reverse_proxy 127.0.0.1:%d
}
`

// writeProxyConfigs writes the three configs under dir and returns their paths.
func writeProxyConfigs(dir, nginxWorkers string, backend, nginxPort, haproxyPort, caddyPort int) (nginx, haproxy, caddy string, err error) {
	ndir := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(ndir, 0o755); err != nil {
		return "", "", "", err
	}
	nginx = filepath.Join(ndir, "nginx.conf")
	haproxy = filepath.Join(dir, "haproxy.cfg")
	caddy = filepath.Join(dir, "Caddyfile")
	for path, text := range map[string]string{
		nginx:   fmt.Sprintf(nginxConf, nginxWorkers, ndir, backend, nginxPort),
		haproxy: fmt.Sprintf(haproxyConf, haproxyPort, backend),
		caddy:   fmt.Sprintf(caddyConf, caddyPort, backend),
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return "", "", "", err
		}
	}
	return nginx, haproxy, caddy, nil
}
