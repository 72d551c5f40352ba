# A container image of taskboard: the static binary alone, run as a user
# without privileges, the SQLite database in the /data volume.
#
# The binary is built beforehand, so that the build pulls no image:
#
#	CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o taskboard ./cmd/taskboard
#	docker build -t taskboard .
#	docker run -d --name taskboard -p 3000:3000 -v taskboard-data:/data taskboard
#
# Inside a container the loopback address is unreachable from outside, so
# the server listens on every interface (--addr :3000); the demo data is off.
FROM scratch
COPY --chmod=0555 taskboard /taskboard
# The volume's mount point, owned by the server's user: a new named volume
# takes its owner and mode (0700) from it.
COPY --chown=65532:65532 --chmod=0700 deploy/docker/data/ /data/
USER 65532:65532
VOLUME /data
EXPOSE 3000
ENV TASKBOARD_DB=/data/taskboard.db
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
	CMD ["/taskboard", "health", "--url", "http://127.0.0.1:3000/ready"]
ENTRYPOINT ["/taskboard"]
CMD ["serve", "--addr", ":3000", "--demo=false"]
