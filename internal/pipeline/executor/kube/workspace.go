package kube

import (
	"context"
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// Prepare creates the run's workspace claim (ReadWriteOnce: every step
// pod of the run mounts it, so the scheduler keeps them on the node that
// holds the volume) and returns the workspace as step pods see it. The
// namespace is made first when missing (an environment no app was
// deployed to yet). It is safe to call again for the same run.
func (e *Executor) Prepare(ctx context.Context, runID string) (executor.Workspace, error) {
	if err := e.ensureNamespace(ctx); err != nil {
		return executor.Workspace{}, err
	}
	size, err := resource.ParseQuantity(e.o.VolumeSize)
	if err != nil {
		return executor.Workspace{}, fmt.Errorf("kube executor: volume size %q: %w", e.o.VolumeSize, err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:   claimName(runID),
			Labels: map[string]string{managedByLabel: managedByValue, runLabel: labelValue(runID)},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if e.o.StorageClass != "" {
		pvc.Spec.StorageClassName = &e.o.StorageClass
	}
	_, err = e.o.Client.CoreV1().PersistentVolumeClaims(e.o.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return executor.Workspace{}, fmt.Errorf("kube executor: create workspace claim %s/%s: %w", e.o.Namespace, pvc.Name, err)
	}
	root := e.o.MountPath
	return executor.Workspace{Root: root, Src: path.Join(root, "src"), Home: path.Join(root, "home")}, nil
}

// Cleanup deletes what the run left: its workspace claim and any step pod
// still there (with their Secrets, which the pods own).
func (e *Executor) Cleanup(ctx context.Context, runID string) error {
	sel := metav1.ListOptions{LabelSelector: managedByLabel + "=" + managedByValue + "," + runLabel + "=" + labelValue(runID)}
	fg := metav1.DeletePropagationBackground
	if err := e.o.Client.CoreV1().Pods(e.o.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &fg}, sel); err != nil {
		return fmt.Errorf("kube executor: delete the pods of run %s: %w", runID, err)
	}
	err := e.o.Client.CoreV1().PersistentVolumeClaims(e.o.Namespace).Delete(ctx, claimName(runID), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("kube executor: delete the workspace of run %s: %w", runID, err)
	}
	return nil
}

// ensureNamespace creates the namespace unless it exists. A namespace an
// administrator made may be all Berth may use, so its existence is
// checked first and creating it is only tried when it is missing.
func (e *Executor) ensureNamespace(ctx context.Context) error {
	nss := e.o.Client.CoreV1().Namespaces()
	_, err := nss.Get(ctx, e.o.Namespace, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if apierrors.IsNotFound(err) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.o.Namespace, Labels: map[string]string{managedByLabel: managedByValue}}}
		if _, err = nss.Create(ctx, ns, metav1.CreateOptions{}); err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
	}
	if apierrors.IsForbidden(err) {
		// Reading namespaces may be forbidden where using one is not.
		return nil
	}
	return fmt.Errorf("kube executor: namespace %s: %w", e.o.Namespace, err)
}
