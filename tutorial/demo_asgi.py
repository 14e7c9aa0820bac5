import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorial.settings_demo")
os.environ.setdefault("POOLING_LAB_SERVER", "asgi")
application = get_asgi_application()
