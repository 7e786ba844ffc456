# Kallimachos API image (used by docker-compose.yml).
FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY kallimachos ./kallimachos
COPY policies ./policies
RUN pip install --no-cache-dir . && useradd --system --uid 10001 kallimachos
USER kallimachos
EXPOSE 8000
CMD ["sh", "-c", "kallimachos init && kallimachos serve --host 0.0.0.0 --port 8000 --workers 2"]
