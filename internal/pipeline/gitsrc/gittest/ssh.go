package gittest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves git-upload-pack over a real SSH server on 127.0.0.1,
// accepting only the given client key, as a forge does for deploy keys.
type SSHServer struct {
	// Addr is host:port; repositories are ssh://git@Addr/<path>.git.
	Addr string
	// KnownHosts is a known_hosts line naming the server's host key.
	KnownHosts []byte
}

// ServeSSH serves the repositories under root over SSH until t ends,
// letting in only the client key given.
func ServeSSH(t testing.TB, root string, client ssh.PublicKey) *SSHServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	host, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), client.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("key not allowed")
	}}
	cfg.AddHostKey(host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				serveSSHConn(conn, cfg, root)
			}()
		}
	}()
	addr := ln.Addr().String()
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, host.PublicKey())
	return &SSHServer{Addr: addr, KnownHosts: []byte(line + "\n")}
}

func serveSSHConn(conn net.Conn, cfg *ssh.ServerConfig, root string) {
	sconn, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer func() { _ = sconn.Close() }()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		for req := range chReqs {
			if req.Type != "exec" {
				_ = req.Reply(req.Type == "env", nil)
				continue
			}
			_ = req.Reply(true, nil) // the client sends nothing before this
			status := runUploadPack(req.Payload, ch, root)
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
			_ = ch.Close()
		}
	}
}

// runUploadPack runs "git-upload-pack '/name.git'" against root.
func runUploadPack(payload []byte, ch ssh.Channel, root string) uint32 {
	if len(payload) < 4 {
		return 1
	}
	line := string(payload[4:])
	repo, ok := strings.CutPrefix(line, "git-upload-pack ")
	if !ok {
		return 1
	}
	repo = strings.Trim(repo, "'")
	cmd := exec.Command("git-upload-pack", filepath.Join(root, filepath.Clean("/"+repo)))
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
	if err := cmd.Run(); err != nil {
		return 1
	}
	return 0
}

// ClientKey makes an ed25519 key pair: the private key as PEM, and the
// public key for ServeSSH.
func ClientKey(t testing.TB) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sshPub
}
