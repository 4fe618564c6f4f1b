# VenueKit image: one image, every role (`venuekit signal`, `venuekit sfu`, `venuekit dev`).
# Stage 1 builds a virtualenv; stage 2 copies only that onto a slim base and runs as non-root.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# gcc builds the SFU's C fan-out (sfu/_native.c); only this stage has it.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venuekit
WORKDIR /src
COPY pyproject.toml README.md ./
COPY venuekit/ venuekit/
COPY sfu/ sfu/
COPY signalling/ signalling/
COPY chat/ chat/
COPY recorder/ recorder/
COPY control_api/ control_api/
COPY analytics/ analytics/
COPY loadtest/ loadtest/
COPY web/ web/
RUN /opt/venuekit/bin/pip install . \
 && /opt/venuekit/bin/python -c "import venuekit.cli, venuekit.edge, sfu, sfu._native, signalling, chat, control_api, analytics"

FROM python:3.11-slim-bookworm AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/venuekit --create-home venuekit
COPY --from=build /opt/venuekit /opt/venuekit
ENV PATH=/opt/venuekit/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    VENUEKIT_HOST=0.0.0.0 \
    VENUEKIT_DATA_DIR=/var/lib/venuekit
USER venuekit
WORKDIR /var/lib/venuekit
EXPOSE 8080 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD python -c "import os, urllib.request; p = os.environ.get('VENUEKIT_HEALTH_PORT', '8080'); urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=2)"
ENTRYPOINT ["venuekit"]
CMD ["signal"]
