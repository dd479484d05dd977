package sidecar

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// checkReflection asks the daemon's server reflection what grpcurl's `list` and `describe`
// ask: the services, and the file that defines raft.v1.PeerService, over both versions of
// the reflection protocol.
func checkReflection(t *testing.T, d *daemon) {
	t.Helper()
	ctx, cancel := rpcContext(5 * time.Second)
	defer cancel()

	stream, err := grpc_reflection_v1.NewServerReflectionClient(d.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *grpc_reflection_v1.ServerReflectionRequest) *grpc_reflection_v1.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		res, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	list := ask(&grpc_reflection_v1.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}})
	var services []string
	for _, s := range list.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	if !slices.Contains(services, "raft.v1.PeerService") {
		t.Fatalf("reflection lists %v, without raft.v1.PeerService", services)
	}
	file := ask(&grpc_reflection_v1.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "raft.v1.PeerService"}})
	descs := file.GetFileDescriptorResponse().GetFileDescriptorProto()
	if len(descs) == 0 {
		t.Fatalf("reflection has no file for raft.v1.PeerService: %v", file)
	}
	var fd descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(descs[0], &fd); err != nil {
		t.Fatal(err)
	}
	if fd.GetPackage() != "raft.v1" || len(fd.GetService()) != 1 || len(fd.GetService()[0].GetMethod()) != 7 {
		t.Fatalf("reflection describes %s with services %v", fd.GetName(), fd.GetService())
	}

	old, err := grpc_reflection_v1alpha.NewServerReflectionClient(d.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Send(&grpc_reflection_v1alpha.ServerReflectionRequest{
		MessageRequest: &grpc_reflection_v1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if res, err := old.Recv(); err != nil || len(res.GetListServicesResponse().GetService()) == 0 {
		t.Fatalf("v1alpha reflection: %v %v", res, err)
	}
}
