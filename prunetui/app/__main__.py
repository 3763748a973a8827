from prunetui.app import run_app

run_app()
