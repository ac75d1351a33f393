# syntax=docker/dockerfile:1.4
# The Switchyard image: Debian bookworm, two stages, every step in deploy/docker/build.sh (the
# script tests/cli/docker_build.sh runs), a non-root user, a HEALTHCHECK on /healthz, and the
# built-in USE-lite model inside so the image serves with no network.
#
#   docker build --build-context shared=../shared -t ghcr.io/switchyard/switchyard:latest .
#   docker run --rm -p 8080:8080 ghcr.io/switchyard/switchyard:latest
#   curl -s localhost:8080/v1/encode/use-lite -d '{"items":[{"text":"hello"}]}'
#
# The same image runs `gateway` and `worker` (deploy/kubernetes, deploy/helm/switchyard). Every
# flag can come from the environment (SWITCHYARD_<FLAG>, PORT); the image listens on 0.0.0.0.

FROM debian:bookworm-slim AS build
COPY deploy/docker/build.sh /usr/local/sbin/sy-build
RUN sy-build deps
COPY . /src
# The model is not in the repository: it comes from the `shared` build context.
COPY --from=shared models/use-lite /src/models/use-lite
RUN sy-build build /src /out

FROM debian:bookworm-slim
COPY --from=build /usr/local/sbin/sy-build /usr/local/sbin/sy-build
COPY --from=build /out/usr/share/switchyard/runtime-packages /usr/share/switchyard/runtime-packages
RUN sy-build runtime /usr/share/switchyard/runtime-packages
COPY --from=build /out/usr/local/bin/switchyard /usr/local/bin/switchyard
COPY --from=build /out/opt/switchyard /opt/switchyard
ENV SWITCHYARD_HOST=0.0.0.0 \
    SWITCHYARD_PORT=8080 \
    SWITCHYARD_MODELS=/opt/switchyard/models \
    SWITCHYARD_LOG_FORMAT=json \
    HF_HOME=/var/lib/switchyard/hf
USER switchyard
WORKDIR /var/lib/switchyard
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT:-${SWITCHYARD_PORT:-8080}}/healthz" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/switchyard"]
CMD ["serve"]
