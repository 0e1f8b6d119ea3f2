# Multi-stage build: compile with the full toolchain, ship a small image that runs as a
# non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p concord && strip target/release/concord

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/concord --create-home concord
COPY --from=build /src/target/release/concord /usr/local/bin/concord
USER concord
WORKDIR /var/lib/concord
ENV CONCORD_BIND=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["concord"]
CMD ["serve"]
