# The image of the worker and the one-shot migration (docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cashback ./cashback
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY worker.py alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
RUN pip install --no-cache-dir -e .
ENV CASHBACK_DATA_DIR=/data
CMD ["python", "worker.py"]
