// Command kindnetd is a small stand-in for kind's kindnetd, run by kind's
// default CNI DaemonSet (hostNetwork, NET_ADMIN). Every 10 seconds it lists
// the cluster's nodes through the API server and:
//   - writes /etc/cni/net.d/10-kindnet.conflist for this node's pod CIDR
//     (ptp with host-local IPAM, portmap), as kindnetd does;
//   - routes every other node's pod CIDR to that node's InternalIP;
//   - masquerades traffic from the pod network to anywhere outside it, so that
//     pods reach other clusters' nodes and the host with the node's address.
//
// Network policies, IPv6 and the NRI plugin of the real kindnetd are not
// implemented. It needs `ip` and `iptables` on PATH.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	saDir    = "/var/run/secrets/kubernetes.io/serviceaccount"
	cniFile  = "/etc/cni/net.d/10-kindnet.conflist"
	interval = 10 * time.Second
)

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR  string   `json:"podCIDR"`
			PodCIDRs []string `json:"podCIDRs"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
			} `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

type node struct {
	name, ip string
	cidrs    []string
}

func main() {
	hostIP := os.Getenv("HOST_IP")
	podSubnet := os.Getenv("POD_SUBNET")
	if hostIP == "" || podSubnet == "" {
		log.Fatal("HOST_IP and POD_SUBNET must be set")
	}
	client, err := inClusterClient()
	if err != nil {
		log.Fatal(err)
	}
	for {
		if err := sync(client, hostIP, podSubnet); err != nil {
			log.Printf("sync: %v", err)
		}
		time.Sleep(interval)
	}
}

type apiClient struct {
	http  *http.Client
	base  string
	token string
}

func inClusterClient() (*apiClient, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset")
	}
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	return &apiClient{
		http: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		},
		base: "https://" + net.JoinHostPort(host, port),
	}, nil
}

func (c *apiClient) nodes() ([]node, error) {
	// The token is re-read each time: the kubelet rotates it.
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, c.base+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/nodes: %s", resp.Status)
	}
	var list nodeList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	var out []node
	for _, item := range list.Items {
		n := node{name: item.Metadata.Name, cidrs: item.Spec.PodCIDRs}
		if len(n.cidrs) == 0 && item.Spec.PodCIDR != "" {
			n.cidrs = []string{item.Spec.PodCIDR}
		}
		for _, a := range item.Status.Addresses {
			if a.Type == "InternalIP" && net.ParseIP(a.Address).To4() != nil {
				n.ip = a.Address
			}
		}
		out = append(out, n)
	}
	return out, nil
}

func sync(c *apiClient, hostIP, podSubnet string) error {
	nodes, err := c.nodes()
	if err != nil {
		return err
	}
	for _, n := range nodes {
		v4 := ipv4CIDRs(n.cidrs)
		if n.ip == "" || len(v4) == 0 {
			continue
		}
		if n.ip == hostIP {
			if err := writeCNIConfig(v4[0]); err != nil {
				return err
			}
			continue
		}
		for _, cidr := range v4 {
			if err := run("ip", "route", "replace", cidr, "via", n.ip); err != nil {
				return err
			}
		}
	}
	return ensureMasquerade(podSubnet)
}

func ipv4CIDRs(cidrs []string) []string {
	var out []string
	for _, c := range cidrs {
		if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil {
			out = append(out, c)
		}
	}
	return out
}

// writeCNIConfig writes the node's CNI configuration when it differs, through
// a rename so that the container runtime never reads half a file.
func writeCNIConfig(podCIDR string) error {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]any{"subnet": podCIDR}}},
				},
				"mtu": 1500,
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(cniFile); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := cniFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	log.Printf("pod CIDR %s: wrote %s", podCIDR, cniFile)
	return os.Rename(tmp, cniFile)
}

func ensureMasquerade(podSubnet string) error {
	rule := []string{"POSTROUTING", "-s", podSubnet, "!", "-d", podSubnet, "-m", "comment", "--comment", "kindnetd stand-in: pod traffic leaving the pod network", "-j", "MASQUERADE"}
	if run(append([]string{"iptables", "-w", "-t", "nat", "-C"}, rule...)...) == nil {
		return nil
	}
	log.Printf("masquerading traffic from %s that leaves it", podSubnet)
	return run(append([]string{"iptables", "-w", "-t", "nat", "-A"}, rule...)...)
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
