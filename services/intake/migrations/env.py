from alembic import context

from libs.common.db import messaging_metadata
from libs.common.migrations import run_env
from services.intake.models import Base

run_env(context, [Base.metadata, messaging_metadata])
