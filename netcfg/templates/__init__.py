"""Default Jinja2 templates of the output formats; ships in the wheel as netcfg.templates."""
