from pomodoro import create_app

app = create_app()
