package pipeline

// LocalEnv names the server's own machine where an environment is asked
// for (executor.env, deploy.env).
const LocalEnv = "local"

// Executor says where a pipeline's run steps execute. Env names an
// environment of the pipeline's team: its cluster runs each step as a pod
// in its namespace, on a workspace volume seeded with the run's commit.
// Unset, or env: local, runs steps as processes on the server's machine.
type Executor struct {
	Env string `json:"env"`
}

// ClusterEnv is the environment whose cluster runs the steps, or "" when
// they run on the server's machine.
func (p *Pipeline) ClusterEnv() string {
	if p == nil || p.Executor == nil || p.Executor.Env == LocalEnv {
		return ""
	}
	return p.Executor.Env
}
